//! One append-only, hash-chained record of everything tejun does.
//!
//! Runs, detections, bans and incidents are all written here, as events. Every
//! view (runs, timelines, postmortems) is a query over this journal, so there
//! is exactly one store to back up, audit and trust.
//!
//! Each event carries the SHA-256 of the previous event; `verify` walks the
//! chain and names the first event that was edited, deleted, inserted or
//! reordered. `append` returns only once the event is durable (SQLite WAL,
//! `synchronous=FULL`), which is what lets a run resume after `kill -9`.
//!
//! The journal is deliberately untyped: an event is a `kind` string and a JSON
//! payload. The crates that produce events own their typed definitions and
//! serialise them; this crate only guarantees order, durability and
//! integrity.
//!
//! INTERFACE CONTRACT (other crates are written against these signatures).

use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("journal: corrupt payload at seq {seq}: {source}")]
    Payload { seq: i64, source: serde_json::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One event as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Position in the chain, from 1, gapless.
    pub seq: i64,
    /// When it happened (UTC). For backfilled events this is the time given.
    pub ts: Timestamp,
    /// When it was written (UTC); differs from `ts` for backfilled events.
    pub recorded_at: Timestamp,
    /// The primary subject: `run/<id>`, `incident/<id>`, `ban/<ip>`, ...
    pub stream: String,
    /// Other subjects this event belongs to, e.g. `incident/<id>` on a run
    /// step that was part of an incident.
    pub refs: Vec<String>,
    /// Dotted event kind: `run.started`, `step.finished`, `ban.added`, ...
    pub kind: String,
    /// Who caused it (user@host, or `tejun-watch`).
    pub actor: String,
    pub payload: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub stream: &'a str,
    pub refs: &'a [String],
    pub kind: &'a str,
    pub actor: &'a str,
    pub payload: &'a Value,
    /// `None` means now.
    pub ts: Option<Timestamp>,
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifyReport {
    pub checked: i64,
    /// The first bad event, if any.
    pub first_bad: Option<Tamper>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tamper {
    /// The seq of the first event that does not verify (for a deletion at
    /// the end of the chain: the seq after the last one present).
    pub seq: i64,
    pub problem: TamperKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TamperKind {
    /// The event's content does not match its own hash.
    Edited,
    /// A seq is missing.
    Deleted,
    /// The event's prev_hash does not match the event before it
    /// (inserted or reordered).
    BrokenLink,
}

/// Filter for [`Journal::query`]. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    /// Matches `stream` exactly, or any entry whose `refs` contains it.
    pub subject: Option<&'a str>,
    /// Matches streams starting with this prefix, e.g. `run/`.
    pub stream_prefix: Option<&'a str>,
    /// Matches kinds starting with this prefix, e.g. `step.`.
    pub kind_prefix: Option<&'a str>,
    pub after_seq: Option<i64>,
    pub limit: Option<usize>,
}

/// The journal, backed by an embedded SQLite database.
pub struct Journal {
    _private: (),
}

impl Journal {
    /// Opens (creating if needed, with parent directories) the database at `path`.
    pub fn open(path: &Path) -> Result<Journal> {
        let _ = path;
        todo!()
    }

    /// Appends one event; durable when this returns. Safe against other
    /// processes appending at the same time (the chain stays linear).
    pub fn append(&self, event: NewEvent<'_>) -> Result<Entry> {
        let _ = event;
        todo!()
    }

    /// Entries in seq order.
    pub fn query(&self, query: &Query<'_>) -> Result<Vec<Entry>> {
        let _ = query;
        todo!()
    }

    /// Distinct streams with a prefix, in order of first appearance.
    pub fn streams(&self, prefix: &str) -> Result<Vec<String>> {
        let _ = prefix;
        todo!()
    }

    /// Walks the whole chain.
    pub fn verify(&self) -> Result<VerifyReport> {
        todo!()
    }
}
