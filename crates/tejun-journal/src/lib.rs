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
//! What the chain can and cannot prove: anyone able to write the database
//! file can edit, delete, insert or reorder events, and `verify` names the
//! first one. A `chain_head` row (count and last hash, written in the same
//! transaction as each append) also exposes events cut from the end. What no
//! local chain can expose is a *consistent rewrite* (cut the end and fix the
//! head, or re-chain everything): for that, [`checkpoint`]s sign the head
//! with a key kept outside the database and are copied to files outside
//! it, so a later audit exposes a cut or a rewrite below the latest one
//! (`tejun audit checkpoint`, `tejun audit verify`). A head recorded by
//! hand works too: [`Journal::hash_of`] (`--anchor COUNT:HASH`).
//!
//! Layout: `store` (schema, durability, the append transaction), `chain`
//! (what a hash covers), `verify` (the walk), `query` (reading back),
//! `checkpoint` (signed heads).
//!
//! INTERFACE CONTRACT (other crates are written against these signatures).

mod chain;
pub mod checkpoint;
mod query;
mod store;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use chain::GENESIS;
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("journal: corrupt payload at seq {seq}: {source}")]
    Payload { seq: i64, source: serde_json::Error },
    #[error("journal: corrupt event at seq {seq}: {what}")]
    Corrupt { seq: i64, what: String },
    #[error("journal database {path}: {what}")]
    Unusable { path: String, what: String },
    #[error("journal directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
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

impl Entry {
    /// Deserialises the payload into the producer's typed event.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        // `&Value` is a Deserializer: no copy of the payload.
        T::deserialize(&self.payload).map_err(|source| Error::Payload {
            seq: self.seq,
            source,
        })
    }
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
    /// The chain head (event count and last hash, written in the same
    /// transaction as every append) does not match the last event: events
    /// were added at the end behind the journal's back, or the head itself
    /// was edited. (Events removed from the end are reported as `Deleted`.)
    HeadMismatch,
}

impl TamperKind {
    /// A short description for people as (English, 日本語); the caller
    /// picks one with `Lang::pick` (this crate has no presentation layer).
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            TamperKind::Edited => (
                "content does not match its hash (edited)",
                "内容がハッシュと一致しません (改ざん)",
            ),
            TamperKind::Deleted => (
                "event is missing (deleted)",
                "イベントが欠落しています (削除)",
            ),
            TamperKind::BrokenLink => (
                "prev_hash does not link to the event before it (inserted or reordered)",
                "prev_hash が直前のイベントと繋がりません (挿入または並べ替え)",
            ),
            TamperKind::HeadMismatch => (
                "chain head does not match the last event (appended outside tejun, or head edited)",
                "チェーンの先頭記録が最後のイベントと一致しません (tejun 外からの追加、または先頭記録の改ざん)",
            ),
        }
    }
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
///
/// One connection behind a mutex: appends are serialised by SQLite's write
/// lock anyway, a durable append costs an fsync that dwarfs any lock
/// contention, and a single connection keeps `Journal` `Send + Sync` so a run
/// and its progress/heartbeat threads can share it without a pool. Other
/// *processes* (a run and `tejun watch`) get their own connection each and
/// are serialised by `BEGIN IMMEDIATE` plus a busy timeout.
pub struct Journal {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl Journal {
    /// Opens (creating if needed, with parent directories) the database at `path`.
    pub fn open(path: &Path) -> Result<Journal> {
        let conn = store::open_file(path)?;
        Ok(Journal {
            conn: Mutex::new(conn),
            path: Some(path.to_path_buf()),
        })
    }

    /// A private journal that lives only as long as this value; for tests.
    pub fn open_in_memory() -> Result<Journal> {
        let conn = store::open_memory()?;
        Ok(Journal {
            conn: Mutex::new(conn),
            path: None,
        })
    }

    /// The database file, `None` for an in-memory journal.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one event; durable when this returns. Safe against other
    /// processes appending at the same time (the chain stays linear).
    pub fn append(&self, event: NewEvent<'_>) -> Result<Entry> {
        let mut entries = store::append(&mut self.conn(), std::slice::from_ref(&event))?;
        Ok(entries.remove(0))
    }

    /// Appends several events atomically (all or none), consecutive in the
    /// chain, with one fsync; durable when this returns. For the engine's
    /// "end of step N, start of step N+1": both facts become durable
    /// together, before step N+1's command is spawned, at the cost of one
    /// disk flush instead of two.
    pub fn append_all(&self, events: &[NewEvent<'_>]) -> Result<Vec<Entry>> {
        store::append(&mut self.conn(), events)
    }

    /// Entries in seq order.
    pub fn query(&self, query: &Query<'_>) -> Result<Vec<Entry>> {
        query::entries(&self.conn(), query)
    }

    /// Distinct streams with a prefix, in order of first appearance.
    pub fn streams(&self, prefix: &str) -> Result<Vec<String>> {
        query::streams(&self.conn(), prefix)
    }

    /// Walks the whole chain.
    pub fn verify(&self) -> Result<VerifyReport> {
        verify::walk(&mut self.conn())
    }

    /// Walks only the last `last` events and checks the head: the cheap
    /// check made before appending (a full walk is `tejun audit verify`).
    pub fn verify_tail(&self, last: i64) -> Result<VerifyReport> {
        verify::walk_tail(&mut self.conn(), last)
    }

    /// The name checkpoints give this journal: its absolute path
    /// (`:memory:` for an in-memory journal).
    pub fn name(&self) -> String {
        self.path
            .as_deref()
            .map(checkpoint::journal_name)
            .unwrap_or_else(|| ":memory:".to_string())
    }

    /// Signs the current head with `key` and stores the checkpoint in the
    /// database; the caller copies it to files outside it
    /// ([`checkpoint::append_line`]).
    pub fn sign_checkpoint(
        &self,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<checkpoint::Checkpoint> {
        checkpoint::sign_head(&mut self.conn(), key, &self.name())
    }

    /// Checkpoints stored in the database.
    pub fn stored_checkpoints(&self) -> Result<Vec<checkpoint::Checkpoint>> {
        checkpoint::stored(&self.conn())
    }

    /// Compares the journal with the checkpoints in the database and in
    /// `files`, trusting only `key`'s signature: all of them, or with
    /// `latest_only` the newest validly signed one (the check before an
    /// append, see [`checkpoint::audit`]).
    pub fn audit_checkpoints(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        files: &[PathBuf],
        latest_only: bool,
    ) -> Result<checkpoint::CheckpointAudit> {
        let mut found: Vec<checkpoint::Found> = self
            .stored_checkpoints()?
            .into_iter()
            .map(|checkpoint| checkpoint::Found {
                checkpoint,
                source: "database".to_string(),
            })
            .collect();
        for file in files {
            found.extend(checkpoint::read_file(file)?.into_iter().map(|checkpoint| {
                checkpoint::Found {
                    checkpoint,
                    source: file.display().to_string(),
                }
            }));
        }
        checkpoint::audit(&self.conn(), key, &self.name(), found, latest_only)
    }

    /// The chain head: number of events and the hash of the last one
    /// ([`GENESIS`] when empty). Recording it somewhere else (a ticket, a
    /// chat message) lets a later audit prove that nothing was cut from the
    /// end, even by someone able to rewrite the whole database file.
    pub fn head(&self) -> Result<(i64, String)> {
        Ok(store::head(&self.conn())?.unwrap_or((0, GENESIS.to_string())))
    }

    /// The stored hash of event `seq`, `None` if there is no such row. With
    /// a head recorded elsewhere earlier, `hash_of(count) == hash` (plus a
    /// clean [`verify`](Journal::verify)) proves events 1..=count are the
    /// ones that were there then.
    pub fn hash_of(&self, seq: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT hash FROM events WHERE seq = ?1", [seq], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// The stored kind and stream of event `seq`, read leniently (whatever
    /// text is there, even in a row that fails verification), for naming a
    /// bad event in an audit. `None` if there is no such row.
    pub fn describe(&self, seq: i64) -> Result<Option<(String, String)>> {
        query::describe(&self.conn(), seq)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written:
        // every write runs in a rusqlite `Transaction`, which rolls back when
        // dropped during unwinding. So a poisoned lock is safe to keep using.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
