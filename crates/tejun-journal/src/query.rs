//! Reading events back: filtered lists in seq order, and stream names.
//!
//! Views are folds over these lists, so the filters are the ones the views
//! need (one run, all runs, one incident and everything that refers to it)
//! and each is served by an index.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, Row};

use crate::store::parse_ts;
use crate::{Entry, Error, Query, Result};

const COLUMNS: &str =
    "e.seq, e.ts, e.recorded_at, e.stream, e.kind, e.actor, e.payload, e.prev_hash, e.hash,
     (SELECT json_group_array(subject) FROM
        (SELECT subject FROM event_refs r WHERE r.seq = e.seq ORDER BY r.pos))";

pub fn entries(conn: &Connection, query: &Query<'_>) -> Result<Vec<Entry>> {
    let mut conditions: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(subject) = query.subject {
        args.push(SqlValue::Text(subject.to_string()));
        conditions
            .push("(e.stream = ?1 OR e.seq IN (SELECT seq FROM event_refs WHERE subject = ?1))");
    }
    // Positional parameters are numbered by push order; build each clause
    // with its own numbers.
    let mut owned: Vec<String> = Vec::new();
    if let Some(prefix) = query.stream_prefix {
        owned.push(prefix_clause("e.stream", args.len() + 1));
        args.push(SqlValue::Text(prefix.to_string()));
        args.push(SqlValue::Integer(prefix.chars().count() as i64));
    }
    if let Some(prefix) = query.kind_prefix {
        owned.push(prefix_clause("e.kind", args.len() + 1));
        args.push(SqlValue::Text(prefix.to_string()));
        args.push(SqlValue::Integer(prefix.chars().count() as i64));
    }
    if let Some(after) = query.after_seq {
        owned.push(format!("e.seq > ?{}", args.len() + 1));
        args.push(SqlValue::Integer(after));
    }
    conditions.extend(owned.iter().map(String::as_str));
    let mut sql = format!("SELECT {COLUMNS} FROM events e");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY e.seq");
    if let Some(limit) = query.limit {
        sql.push_str(&format!(
            " LIMIT {}",
            i64::try_from(limit).unwrap_or(i64::MAX)
        ));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_entry(row)?);
    }
    Ok(out)
}

/// `column` starts with parameter `n` (text, length in parameter `n+1`).
/// The `>=` lets SQLite seek the index to the first candidate.
fn prefix_clause(column: &str, n: usize) -> String {
    format!(
        "({column} >= ?{n} AND substr({column}, 1, ?{}) = ?{n})",
        n + 1
    )
}

pub fn streams(conn: &Connection, prefix: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT stream FROM events
         WHERE stream >= ?1 AND substr(stream, 1, ?2) = ?1
         GROUP BY stream ORDER BY MIN(seq)",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![prefix, prefix.chars().count() as i64],
        |row| row.get::<_, String>(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn describe(conn: &Connection, seq: i64) -> Result<Option<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT kind, stream FROM events WHERE seq = ?1")?;
    let mut rows = stmt.query([seq])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let lenient = |i| match row.get_ref(i) {
        Ok(ValueRef::Text(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Ok(ValueRef::Integer(n)) => n.to_string(),
        Ok(ValueRef::Real(f)) => f.to_string(),
        Ok(ValueRef::Blob(_)) => "<blob>".to_string(),
        Ok(ValueRef::Null) | Err(_) => "<null>".to_string(),
    };
    Ok(Some((lenient(0), lenient(1))))
}

fn read_entry(row: &Row<'_>) -> Result<Entry> {
    let seq: i64 = row.get(0)?;
    let ts: String = row.get(1)?;
    let recorded_at: String = row.get(2)?;
    let payload: String = row.get(6)?;
    let refs: String = row.get(9)?;
    Ok(Entry {
        seq,
        ts: parse_ts(seq, &ts)?,
        recorded_at: parse_ts(seq, &recorded_at)?,
        stream: row.get(3)?,
        refs: serde_json::from_str(&refs).map_err(|err| Error::Corrupt {
            seq,
            what: format!("bad refs: {err}"),
        })?,
        kind: row.get(4)?,
        actor: row.get(5)?,
        payload: serde_json::from_str(&payload).map_err(|source| Error::Payload { seq, source })?,
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}
