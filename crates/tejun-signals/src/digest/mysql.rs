//! MySQL/MariaDB slow-query logs: `# Time`, `# User@Host`, `# Query_time …`
//! headers, `use db;` and `SET timestamp=…;`, then the statement (over any
//! number of lines) up to the next `#` line that follows a `;` — the
//! boundary pt-query-digest cuts at. `# administrator command: Quit;` is an
//! entry of its own. The server's start-up banner lines are skipped.

use std::io::BufRead;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{LineFeed, LineParser, Malformed, Problem, Query};

/// Reads entries one at a time; memory holds one entry.
pub struct MysqlReader<R> {
    feed: LineFeed<R>,
    zone: TimeZone,
    entry: Option<Entry>,
    /// The last `# Time:` seen: MySQL 5 and MariaDB write it once per
    /// second, not once per entry.
    last_time: Option<Timestamp>,
    /// Inside a run of lines outside any entry (reported once).
    outside: bool,
}

#[derive(Default)]
struct Entry {
    line: u64,
    time_line: Option<Timestamp>,
    timestamp: Option<Timestamp>,
    has_user: bool,
    query_time: Option<f64>,
    lock_time: Option<f64>,
    rows_sent: Option<u64>,
    rows_examined: Option<u64>,
    db: Option<String>,
    schema: Option<String>,
    user: Option<String>,
    host: Option<String>,
    body: Option<String>,
    /// The last body line ended with `;`: a `#` line now starts a new entry.
    ended: bool,
    problem: Option<Problem>,
}

impl<R: BufRead> MysqlReader<R> {
    /// `zone` reads `# Time: 241204 10:00:00` dates, which carry none.
    pub fn new(input: R, zone: TimeZone) -> MysqlReader<R> {
        MysqlReader {
            feed: LineFeed::new(input),
            zone,
            entry: None,
            last_time: None,
            outside: false,
        }
    }

    fn finish(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        if entry.time_line.is_some() {
            self.last_time = entry.time_line;
        }
        let result = match (entry.problem, entry.query_time, entry.body) {
            (Some(problem), _, _) => Err(problem),
            (None, _, None) => Err(Problem::NoStatement),
            (None, None, Some(_)) => Err(Problem::NoQueryTime),
            (None, Some(query_time), Some(mut text)) => {
                if text.ends_with(';') {
                    text.pop();
                }
                Ok(Query {
                    line: entry.line,
                    time: entry.timestamp.or(entry.time_line).or(self.last_time),
                    query_time,
                    lock_time: entry.lock_time,
                    rows_sent: entry.rows_sent,
                    rows_examined: entry.rows_examined,
                    db: entry.db.or(entry.schema),
                    user: entry.user,
                    host: entry.host,
                    text,
                })
            }
        };
        self.feed
            .ready
            .push_back(result.map_err(|problem| Malformed {
                line: entry.line,
                problem,
            }));
    }

    /// No entry is in progress.
    pub(crate) fn between_entries(&self) -> bool {
        self.entry.is_none()
    }

    /// The entry in progress has its whole statement (ended by `;`).
    pub(crate) fn statement_complete(&self) -> bool {
        self.entry
            .as_ref()
            .is_some_and(|e| e.body.is_some() && e.ended)
    }

    fn entry(&mut self) -> &mut Entry {
        let line = self.feed.line;
        self.outside = false;
        self.entry.get_or_insert_with(|| Entry {
            line,
            ..Entry::default()
        })
    }

    fn take_line(&mut self, text: &str) {
        let in_body = self.entry.as_ref().is_some_and(|e| e.body.is_some());
        let ended = self.entry.as_ref().is_some_and(|e| e.ended);
        if in_body && !ended {
            self.append_body(text);
            return;
        }
        if is_banner(text) {
            self.finish();
            return;
        }
        if in_body && !text.starts_with('#') {
            // `select 1;` then more text without a header: still the same
            // statement, as pt-query-digest reads it.
            self.append_body(text);
            return;
        }
        if in_body {
            self.finish();
        }
        if let Some(rest) = text.strip_prefix('#') {
            self.header(text, rest);
        } else if self.entry.is_some() && text.starts_with("use ") {
            let db = text[4..].split(';').next().unwrap_or("").trim().to_string();
            let e = self.entry();
            if e.db.is_none() {
                e.db = Some(db);
            }
        } else if self.entry.is_some() && text.starts_with("SET ") {
            if let Some(setting) = text.strip_prefix("SET timestamp=") {
                let value = setting.trim_end_matches(';').trim();
                let time = value
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Timestamp::from_microsecond((s * 1e6) as i64).ok());
                self.entry().timestamp = time;
            } else if text.starts_with("SET last_insert_id") || text.starts_with("SET insert_id") {
                // Session state the server logs before the statement.
            } else {
                self.start_body(text);
            }
        } else if self.entry.is_some() {
            self.start_body(text);
        } else if !text.trim().is_empty() && !self.outside {
            self.outside = true;
            self.feed.ready.push_back(Err(Malformed {
                line: self.feed.line,
                problem: Problem::OutsideEntry,
            }));
        }
    }

    fn start_body(&mut self, text: &str) {
        let e = self.entry();
        e.ended = text.trim_end().ends_with(';');
        e.body = Some(text.to_string());
    }

    fn append_body(&mut self, text: &str) {
        let e = self.entry();
        if let Some(body) = &mut e.body {
            body.push('\n');
            body.push_str(text);
        }
        e.ended = text.trim_end().ends_with(';');
    }

    fn header(&mut self, text: &str, rest: &str) {
        let rest = rest.trim_start();
        if let Some(value) = rest.strip_prefix("Time:") {
            // `# Time` is always an entry's first line.
            self.finish();
            let time = parse_time_line(value.trim(), &self.zone);
            let e = self.entry();
            e.time_line = time;
            return;
        }
        if let Some(value) = rest.strip_prefix("User@Host:") {
            if self
                .entry
                .as_ref()
                .is_some_and(|e| e.has_user || e.query_time.is_some())
            {
                self.finish();
            }
            let (user, host) = user_host(value);
            let e = self.entry();
            e.has_user = true;
            e.user = user;
            e.host = host;
            return;
        }
        if let Some(command) = rest.strip_prefix("administrator command:") {
            let e = self.entry();
            let command = command.trim().trim_end_matches(';');
            e.body = Some(format!("administrator command: {command}"));
            e.ended = true;
            return;
        }
        if self.entry.is_none() && !looks_like_fields(rest) {
            // A comment line outside an entry (`# some note`).
            return;
        }
        self.fields(text, rest);
    }

    /// `Key: value` pairs, as in `# Query_time: 1.2  Lock_time: 0 …`.
    fn fields(&mut self, _text: &str, rest: &str) {
        let mut words = rest.split_ascii_whitespace();
        let mut next_query_time = None;
        while let Some(word) = words.next() {
            let Some(key) = word.strip_suffix(':') else {
                continue;
            };
            let Some(value) = words.next() else {
                break;
            };
            let e = self.entry();
            let bad = |field: &str| Problem::BadNumber {
                field: field.to_string(),
                value: value.to_string(),
            };
            match key {
                "Query_time" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => next_query_time = Some(v),
                    _ => e.problem = e.problem.take().or(Some(bad(key))),
                },
                "Lock_time" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => e.lock_time = Some(v),
                    _ => e.problem = e.problem.take().or(Some(bad(key))),
                },
                "Rows_sent" => match value.parse::<u64>() {
                    Ok(v) => e.rows_sent = Some(v),
                    Err(_) => e.problem = e.problem.take().or(Some(bad(key))),
                },
                "Rows_examined" => match value.parse::<u64>() {
                    Ok(v) => e.rows_examined = Some(v),
                    Err(_) => e.problem = e.problem.take().or(Some(bad(key))),
                },
                "Schema" if !value.ends_with(':') => e.schema = Some(value.to_string()),
                _ => {}
            }
        }
        if let Some(v) = next_query_time {
            if self.entry.as_ref().is_some_and(|e| e.query_time.is_some()) {
                // A second `# Query_time` without a statement between.
                self.finish();
            }
            self.entry().query_time = Some(v);
        }
    }
}

fn looks_like_fields(rest: &str) -> bool {
    rest.split_ascii_whitespace()
        .next()
        .is_some_and(|w| w.ends_with(':') && w.len() > 1)
}

/// The lines mysqld writes when it opens the log.
fn is_banner(text: &str) -> bool {
    text.starts_with("Tcp port:")
        || text.starts_with("TCP Port:")
        || (text.contains(", Version: ") && text.contains("started with:"))
        || (text.starts_with("Time") && text.contains("Id") && text.contains("Command"))
}

/// `root[root] @ localhost [127.0.0.1]  Id: 8`.
fn user_host(value: &str) -> (Option<String>, Option<String>) {
    let value = value.trim();
    let user = value
        .split('[')
        .next()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let host = value.split_once("@ ").and_then(|(_, rest)| {
        let name = rest.split(" [").next().unwrap_or("").trim();
        let ip = rest
            .split_once('[')
            .and_then(|(_, r)| r.split(']').next())
            .unwrap_or("");
        let host = if name.is_empty() || name.starts_with('[') {
            ip
        } else {
            name
        };
        (!host.is_empty()).then(|| host.to_string())
    });
    (user.map(str::to_string), host)
}

/// `2024-12-04T20:10:11.123456Z` (MySQL 5.7+) or `241204 20:10:11` /
/// `241204  9:10:11` (MySQL 5, MariaDB; in the server's zone).
fn parse_time_line(value: &str, zone: &TimeZone) -> Option<Timestamp> {
    if let Ok(t) = value.parse::<Timestamp>() {
        return Some(t);
    }
    let (date, time) = value.split_once(' ')?;
    let time = time.trim();
    if date.len() != 6 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = 2000 + date[0..2].parse::<i16>().ok()?;
    let month = date[2..4].parse::<i8>().ok()?;
    let day = date[4..6].parse::<i8>().ok()?;
    let mut parts = time.split(':');
    let hour = parts.next()?.trim().parse::<i8>().ok()?;
    let minute = parts.next()?.parse::<i8>().ok()?;
    let second = parts.next()?.split('.').next()?.parse::<i8>().ok()?;
    let dt = jiff::civil::DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    zone.to_ambiguous_timestamp(dt).compatible().ok()
}

impl<R: BufRead> LineParser<R> for MysqlReader<R> {
    fn feed(&mut self) -> &mut LineFeed<R> {
        &mut self.feed
    }
    fn take_line(&mut self, text: &str) {
        MysqlReader::take_line(self, text);
    }
    fn finish(&mut self) {
        MysqlReader::finish(self);
    }
}

impl<R> MysqlReader<R> {
    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.feed.line
    }
}

impl<R: BufRead> Iterator for MysqlReader<R> {
    type Item = std::io::Result<Result<Query, Malformed>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &str) -> Vec<Result<Query, Malformed>> {
        MysqlReader::new(log.as_bytes(), TimeZone::UTC)
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn multi_line_statements_admin_commands_and_headers() {
        let log =
            "/usr/sbin/mariadbd, Version: 11.8.3-MariaDB-0+deb13u1-log (Debian 13). started with:
Tcp port: 0  Unix socket: /tmp/x.sock
Time\t\t    Id Command\tArgument
# Time: 241204 20:10:11
# User@Host: app[app] @ localhost []
# Thread_id: 8  Schema: shop  QC_hit: No
# Query_time: 1.500000  Lock_time: 0.000100  Rows_sent: 1  Rows_examined: 5000
# Rows_affected: 0  Bytes_sent: 71
SET timestamp=1733343011;
SELECT *
  FROM orders
 WHERE id = 5;
# User@Host: app[app] @ localhost []
# Query_time: 0.000010  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# administrator command: Quit;
";
        let got = read(log);
        assert_eq!(got.len(), 2, "{got:?}");
        let q = got[0].as_ref().unwrap();
        assert_eq!(q.text, "SELECT *\n  FROM orders\n WHERE id = 5");
        assert_eq!(q.db.as_deref(), Some("shop"));
        assert_eq!(q.line, 4);
        assert_eq!(q.rows_examined, Some(5000));
        assert_eq!(q.time.unwrap().as_second(), 1733343011);
        let admin = got[1].as_ref().unwrap();
        assert_eq!(admin.text, "administrator command: Quit");
        assert_eq!(admin.time.unwrap().to_string(), "2024-12-04T20:10:11Z");
    }

    #[test]
    fn malformed_entries_are_reported_with_their_line() {
        let log = "garbage
more garbage
# Time: 2026-12-01T10:00:00Z
# Query_time: abc  Lock_time: 0  Rows_sent: 1  Rows_examined: 1
select 1;
# Time: 2026-12-01T10:00:01Z
# User@Host: a[a] @ h []
# Time: 2026-12-01T10:00:02Z
# Query_time: 0.5  Lock_time: 0  Rows_sent: 1  Rows_examined: 1
select 2;
";
        let got = read(log);
        let lines: Vec<_> = got
            .iter()
            .map(|r| match r {
                Ok(q) => (q.line, None),
                Err(m) => (m.line, Some(m.problem.clone())),
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (1, Some(Problem::OutsideEntry)),
                (
                    3,
                    Some(Problem::BadNumber {
                        field: "Query_time".into(),
                        value: "abc".into()
                    })
                ),
                (6, Some(Problem::NoStatement)),
                (8, None),
            ]
        );
    }
}
