//! A slow log read as it grows (`tejun watch`): the same MySQL/MariaDB and
//! PostgreSQL readers `tejun digest` uses, fed one line at a time.
//!
//! A MySQL entry spans several lines (headers, `use`, `SET timestamp`, a
//! statement over any number of lines) and is only known to be over when
//! the next one starts. A server writes an entry at once, so when what has
//! been written so far ends with a statement ended by `;` (MySQL) or any
//! statement (PostgreSQL, once its last line is [`POSTGRES_SETTLE`] old:
//! a long one reaches the file in pieces), [`FollowedSlowLog::written`]
//! finishes it:
//! a query is judged as soon as it is logged, not when the next one comes.

use std::time::{Duration, Instant};

use jiff::tz::TimeZone;

use super::mysql::MysqlReader;
use super::postgres::PostgresReader;
use super::{Format, LineParser, Malformed, Query};

enum Dialect {
    Mysql(MysqlReader<std::io::Empty>),
    Postgres(PostgresReader<std::io::Empty>),
}

/// One followed slow log.
pub struct FollowedSlowLog {
    dialect: Dialect,
    /// When the last line came.
    last_line: Option<Instant>,
}

/// How long a PostgreSQL statement's last line must have been there
/// before the statement is judged: a long statement reaches the file in
/// several writes (the server's log stream is line-buffered).
pub const POSTGRES_SETTLE: Duration = Duration::from_millis(500);

impl FollowedSlowLog {
    /// `Format::Auto` reads MySQL/MariaDB (a followed file has no head to
    /// look at yet: say `Format::Postgres` for PostgreSQL).
    pub fn new(format: Format, zone: TimeZone) -> FollowedSlowLog {
        let dialect = match format {
            Format::Postgres => Dialect::Postgres(PostgresReader::new(std::io::empty(), zone)),
            Format::Mysql | Format::Auto => {
                Dialect::Mysql(MysqlReader::new(std::io::empty(), zone))
            }
        };
        FollowedSlowLog {
            dialect,
            last_line: None,
        }
    }

    /// One line (without its line ending); entries it finished go to `out`.
    pub fn line(&mut self, text: &str, out: &mut Vec<Result<Query, Malformed>>) {
        self.last_line = Some(Instant::now());
        match &mut self.dialect {
            Dialect::Mysql(r) => push(r, text, out),
            Dialect::Postgres(r) => push(r, text, out),
        }
    }

    /// Everything written so far has been read: finishes the entry in
    /// progress if its statement is complete.
    pub fn written(&mut self, out: &mut Vec<Result<Query, Malformed>>) {
        self.written_at(Instant::now(), out);
    }

    /// [`FollowedSlowLog::written`] at `now`.
    pub fn written_at(&mut self, now: Instant, out: &mut Vec<Result<Query, Malformed>>) {
        match &mut self.dialect {
            Dialect::Mysql(r) => {
                if r.statement_complete() {
                    LineParser::finish(r);
                }
                out.extend(r.feed().ready.drain(..));
            }
            Dialect::Postgres(r) => {
                let settled = self
                    .last_line
                    .is_none_or(|at| now.saturating_duration_since(at) >= POSTGRES_SETTLE);
                if settled {
                    LineParser::finish(r);
                }
                out.extend(r.feed().ready.drain(..));
            }
        }
    }

    /// Nothing read is waiting for more lines (after [`Self::written`]):
    /// the reader can be dropped without losing a query.
    pub fn idle(&self) -> bool {
        match &self.dialect {
            Dialect::Mysql(r) => r.between_entries(),
            Dialect::Postgres(r) => r.between_entries(),
        }
    }
}

fn push<P: LineParser<std::io::Empty>>(
    reader: &mut P,
    text: &str,
    out: &mut Vec<Result<Query, Malformed>>,
) {
    reader.feed().line += 1;
    reader.take_line(text);
    out.extend(reader.feed().ready.drain(..));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mysql_entry_is_assembled_across_reads_and_finished_once_written() {
        let mut log = FollowedSlowLog::new(Format::Mysql, TimeZone::UTC);
        let mut out = Vec::new();
        // First read: the headers and half of a two-line statement.
        for line in [
            "# Time: 2026-12-01T10:00:00.000000Z",
            "# User@Host: app[app] @ localhost []",
            "# Query_time: 2.500000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 90000",
            "SET timestamp=1796119200;",
            "SELECT * FROM orders",
        ] {
            log.line(line, &mut out);
        }
        log.written(&mut out);
        assert!(out.is_empty(), "the statement is not over: {out:?}");
        // Second read: the rest.
        log.line("WHERE email = 'a@b.c';", &mut out);
        log.written(&mut out);
        let [Ok(q)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(q.text, "SELECT * FROM orders\nWHERE email = 'a@b.c'");
        assert_eq!((q.query_time, q.rows_examined), (2.5, Some(90_000)));
        assert_eq!(q.time.map(|t| t.as_second()), Some(1_796_119_200));
        // The next entry starts cleanly after the finished one.
        out.clear();
        for line in [
            "# Query_time: 0.1  Lock_time: 0 Rows_sent: 0  Rows_examined: 0",
            "select 1;",
        ] {
            log.line(line, &mut out);
        }
        log.written(&mut out);
        assert!(
            matches!(out.as_slice(), [Ok(q)] if q.text == "select 1"),
            "{out:?}"
        );
    }

    #[test]
    fn a_postgres_statement_is_finished_once_nothing_more_came_for_a_while() {
        let mut log = FollowedSlowLog::new(Format::Postgres, TimeZone::UTC);
        let mut out = Vec::new();
        log.line(
            "2026-12-01 10:00:00 UTC [42] LOG:  duration: 2500.000 ms  statement: SELECT *",
            &mut out,
        );
        let start = Instant::now();
        log.written_at(start, &mut out);
        assert!(out.is_empty(), "more of it may come: {out:?}");
        log.line("\tFROM orders;", &mut out);
        log.written_at(Instant::now(), &mut out);
        assert!(out.is_empty(), "more of it may come: {out:?}");
        // Nothing more for a while: the statement is over.
        log.written_at(Instant::now() + POSTGRES_SETTLE, &mut out);
        assert!(
            matches!(out.as_slice(), [Ok(q)] if q.text == "SELECT *\nFROM orders" && q.query_time == 2.5),
            "{out:?}"
        );
    }
}
