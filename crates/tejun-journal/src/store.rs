//! The SQLite file: schema, durability settings and the append transaction.
//!
//! Durability: WAL with `synchronous=FULL` fsyncs the log on every commit, so
//! an event is on disk when `append` returns. The engine relies on that to
//! make a step's start durable before the step's command is spawned.
//!
//! Linearity across processes: `BEGIN IMMEDIATE` takes SQLite's write lock
//! *before* the chain head is read, so two processes can never both chain
//! onto the same predecessor; the loser waits (busy timeout) and then chains
//! onto the winner's event.
//!
//! The tail anchor: `chain_head` holds the event count and the last hash and
//! is updated in the same transaction as the insert. Appends chain onto the
//! head, not onto whatever row happens to be last, so a row deleted from the
//! end leaves a visible gap instead of being silently papered over.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::chain::{self, Fields, GENESIS};
use crate::{Entry, Error, NewEvent, Result};

/// How long an append waits for another process holding the write lock.
/// Long enough for a burst of `tejun watch` bans; an fsync is milliseconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// 2 added `checkpoints`; a version-1 journal is upgraded in place.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY,
    ts          TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    stream      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stream ON events(stream, seq);
CREATE TABLE IF NOT EXISTS event_refs (
    seq     INTEGER NOT NULL,
    pos     INTEGER NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (seq, pos)
);
CREATE INDEX IF NOT EXISTS event_refs_subject ON event_refs(subject, seq);
CREATE TABLE IF NOT EXISTS chain_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    count     INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id   INTEGER PRIMARY KEY,
    line TEXT NOT NULL
);
";

pub fn open_file(path: &Path) -> Result<Connection> {
    let open_err = |source| Error::Open {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // journal_mode returns the resulting mode as a row.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Unusable {
            path: path.display().to_string(),
            what: format!("could not switch to WAL journal mode (got {mode})"),
        });
    }
    conn.execute_batch("PRAGMA synchronous=FULL;")
        .map_err(open_err)?;
    let version = init_schema(&mut conn).map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(Error::Unusable {
            path: path.display().to_string(),
            what: format!(
                "schema version {version} is newer than this tejun understands ({SCHEMA_VERSION})"
            ),
        });
    }
    Ok(conn)
}

pub fn open_memory() -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    init_schema(&mut conn)?;
    Ok(conn)
}

/// Creates the tables if missing; returns the schema version found (a newer
/// one than ours is left untouched for the caller to refuse).
fn init_schema(conn: &mut Connection) -> rusqlite::Result<i64> {
    // The common case, an existing journal: no write lock needed, so
    // readers (`tejun runs` during a run) never queue behind a writer.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(version);
    }
    // IMMEDIATE so two processes opening a fresh file don't race.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(version);
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}

/// The anchor: (count, last hash), `None` when nothing was ever appended.
pub fn head(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT count, last_hash FROM chain_head WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?)
}

/// Timestamps are stored as RFC 3339 UTC with exactly nine fractional
/// digits, so the text sorts like the instant and parses back exactly.
pub fn format_ts(ts: Timestamp) -> String {
    format!("{ts:.9}")
}

pub fn parse_ts(seq: i64, text: &str) -> Result<Timestamp> {
    text.parse().map_err(|err| Error::Corrupt {
        seq,
        what: format!("bad timestamp {text:?}: {err}"),
    })
}

pub fn append(conn: &mut Connection, events: &[NewEvent<'_>]) -> Result<Vec<Entry>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (mut count, mut prev_hash) = head(&tx)?.unwrap_or((0, GENESIS.to_string()));
    let recorded_at = Timestamp::now();
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        let entry = insert(&tx, count + 1, prev_hash, recorded_at, event)?;
        count = entry.seq;
        prev_hash = entry.hash.clone();
        entries.push(entry);
    }
    if !entries.is_empty() {
        tx.prepare_cached(
            "INSERT INTO chain_head (id, count, last_hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET count = excluded.count, last_hash = excluded.last_hash",
        )?
        .execute(params![count, prev_hash])?;
    }
    // The one fsync (WAL, synchronous=FULL) happens here.
    tx.commit()?;
    Ok(entries)
}

/// Writes one event as `seq` chained onto `prev_hash`, inside `tx`.
fn insert(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    prev_hash: String,
    recorded_at: Timestamp,
    event: &NewEvent<'_>,
) -> Result<Entry> {
    let payload = chain::canonical_json(event.payload);
    let ts = event.ts.unwrap_or(recorded_at);
    let ts_text = format_ts(ts);
    let recorded_text = format_ts(recorded_at);
    let hash = chain::hash(&Fields {
        seq,
        ts: &ts_text,
        recorded_at: &recorded_text,
        stream: event.stream,
        refs: event.refs,
        kind: event.kind,
        actor: event.actor,
        payload: &payload,
        prev_hash: &prev_hash,
    });
    tx.prepare_cached(
        "INSERT INTO events (seq, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        seq,
        ts_text,
        recorded_text,
        event.stream,
        event.kind,
        event.actor,
        payload,
        prev_hash,
        hash
    ])
    .map_err(|err| match err {
        // The head says `seq` is free but a row has it: someone added rows
        // behind the journal's back. Refuse rather than fork the chain.
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::Corrupt {
                seq,
                what:
                    "an event with this seq exists beyond the chain head (run `tejun audit verify`)"
                        .to_string(),
            }
        }
        other => Error::Sqlite(other),
    })?;
    if !event.refs.is_empty() {
        let mut insert_ref =
            tx.prepare_cached("INSERT INTO event_refs (seq, pos, subject) VALUES (?1, ?2, ?3)")?;
        for (pos, subject) in event.refs.iter().enumerate() {
            insert_ref.execute(params![seq, pos as i64, subject])?;
        }
    }
    Ok(Entry {
        seq,
        ts,
        recorded_at,
        stream: event.stream.to_string(),
        refs: event.refs.to_vec(),
        kind: event.kind.to_string(),
        actor: event.actor.to_string(),
        payload: event.payload.clone(),
        prev_hash,
        hash,
    })
}
