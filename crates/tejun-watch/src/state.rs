//! The watcher's own durable state: read offsets, journal cursors, open
//! windows, and metric rules' baseline history and long-window per-minute
//! counts.
//!
//! Kept in `watch-state.db` in the state directory, not in the journal: offsets
//! change with every line read and are nobody's record, only the watcher's
//! bookmark. Offsets and windows are saved in one transaction after every
//! batch of lines, so after a crash or restart both describe the same
//! point in the logs: no line is read twice, none is skipped, and an
//! offender two attempts short of a ban is still two attempts short.
//!
//! The database is opened in SQLite's exclusive locking mode, so only one
//! watcher uses a state directory at a time: two would read every line twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::follow::{Checkpoint, FileId, Head};
use crate::window::{Hit, Key};

/// The durable state of one watcher.
pub struct State {
    conn: Connection,
}

/// A saved window: rule, offender (as displayed), hits.
pub type SavedWindow = (String, String, Vec<Hit<LineRef>>);

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("state directory {path} is in use by another `tejun watch`")]
    Locked { path: String },
}

/// A line kept with a counted hit, for the `detect.triggered` event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineRef {
    pub text: String,
    pub file: String,
}

/// The state's file name. It was `watch.db`, which is also a natural name
/// for a journal (`TEJUN_DB=/var/lib/tejun/watch.db`): beside it, the
/// watcher took the journal for another watcher's state and refused to
/// start. The state's own name cannot collide.
pub const STATE_FILE: &str = "watch-state.db";

/// A state kept under the old name (`watch.db` with a `checkpoint` table,
/// which no journal has) is renamed once, so an upgrade neither re-reads
/// nor skips. Anything else called `watch.db` is left alone.
fn adopt_old_state(dir: &Path, path: &Path) {
    let old = dir.join("watch.db");
    if path.exists() || !old.is_file() {
        return;
    }
    let is_state = Connection::open_with_flags(&old, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint'",
                [],
                |row| row.get::<_, i64>(0),
            )
        })
        .is_ok_and(|n| n == 1);
    if is_state {
        for suffix in ["", "-wal", "-shm"] {
            let from = dir.join(format!("watch.db{suffix}"));
            if from.exists() {
                let _ = std::fs::rename(&from, dir.join(format!("{STATE_FILE}{suffix}")));
            }
        }
    }
}

impl State {
    pub fn open(dir: &Path) -> Result<State, StateError> {
        let io = |source| StateError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(STATE_FILE);
        adopt_old_state(dir, &path);
        let db = |source| StateError::Db {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(&path).map_err(db)?;
        // Taking the write lock now and keeping it (exclusive mode) is what
        // tells a second watcher that this directory is in use.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(db)?;
        let locked = conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
        if let Err(rusqlite::Error::SqliteFailure(e, _)) = &locked
            && matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
        {
            return Err(StateError::Locked {
                path: dir.display().to_string(),
            });
        }
        locked.map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS checkpoint (
                 source TEXT NOT NULL, path TEXT NOT NULL,
                 dev INTEGER NOT NULL, ino INTEGER NOT NULL, offset INTEGER NOT NULL,
                 head_len INTEGER NOT NULL, head_sha256 TEXT NOT NULL,
                 PRIMARY KEY (source, path));
             CREATE TABLE IF NOT EXISTS window (
                 rule TEXT NOT NULL, offender TEXT NOT NULL, hits TEXT NOT NULL,
                 PRIMARY KEY (rule, offender));
             CREATE TABLE IF NOT EXISTS pending (
                 id TEXT PRIMARY KEY, detection TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS journal_cursor (
                 source TEXT PRIMARY KEY, cursor TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS metric_history (
                 source TEXT NOT NULL, key TEXT NOT NULL, start INTEGER NOT NULL,
                 requests INTEGER NOT NULL, errors INTEGER NOT NULL,
                 slow INTEGER NOT NULL, p95_ms REAL NOT NULL,
                 PRIMARY KEY (source, key, start));
             CREATE TABLE IF NOT EXISTS metric_bucket (
                 source TEXT NOT NULL, window TEXT NOT NULL, minute INTEGER NOT NULL,
                 requests INTEGER NOT NULL, failures INTEGER NOT NULL, slow TEXT NOT NULL,
                 PRIMARY KEY (source, window, minute));",
        )
        .map_err(db)?;
        Ok(State { conn })
    }

    /// The checkpoints of one source, by path.
    pub fn checkpoints(&self, source: &str) -> rusqlite::Result<BTreeMap<PathBuf, Checkpoint>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, dev, ino, offset, head_len, head_sha256 FROM checkpoint WHERE source = ?1")?;
        let rows = stmt.query_map([source], |row| {
            let path: String = row.get(0)?;
            let cp = Checkpoint {
                id: FileId {
                    dev: row.get::<_, i64>(1)? as u64,
                    ino: row.get::<_, i64>(2)? as u64,
                },
                offset: row.get::<_, i64>(3)? as u64,
                head: Head {
                    len: row.get::<_, i64>(4)? as u64,
                    sha256: row.get(5)?,
                },
            };
            Ok((PathBuf::from(path), cp))
        })?;
        rows.collect()
    }

    /// The cursor of the last journal entry a source counted.
    pub fn journal_cursor(&self, source: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT cursor FROM journal_cursor WHERE source = ?1",
                [source],
                |row| row.get(0),
            )
            .optional()
    }

    /// Saved windows: (key as stored, hits).
    pub fn windows(&self) -> rusqlite::Result<Vec<SavedWindow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT rule, offender, hits FROM window")?;
        let rows = stmt.query_map([], |row| {
            let hits: String = row.get(2)?;
            Ok((
                row.get(0)?,
                row.get(1)?,
                serde_json::from_str(&hits).unwrap_or_default(),
            ))
        })?;
        rows.collect()
    }

    /// The baseline history of a source's metric rules: (key, window
    /// start, point), `""` being the whole source.
    pub fn metric_history(
        &self,
        source: &str,
    ) -> rusqlite::Result<Vec<(String, i64, tejun_signals::trend::series::Point)>> {
        let mut stmt = self.conn.prepare(
            "SELECT key, start, requests, errors, slow, p95_ms FROM metric_history
             WHERE source = ?1 ORDER BY key, start",
        )?;
        let rows = stmt.query_map([source], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                tejun_signals::trend::series::Point {
                    requests: row.get::<_, i64>(2)? as u64,
                    errors: row.get::<_, i64>(3)? as u64,
                    slow: row.get::<_, i64>(4)? as u64,
                    p95_ms: row.get(5)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// The per-minute counts of a source's long windows, by window name.
    pub fn metric_buckets(
        &self,
        source: &str,
    ) -> rusqlite::Result<std::collections::HashMap<String, Vec<crate::buckets::SavedMinute>>> {
        let mut stmt = self.conn.prepare(
            "SELECT window, minute, requests, failures, slow FROM metric_bucket
             WHERE source = ?1 ORDER BY window, minute",
        )?;
        let rows = stmt.query_map([source], |row| {
            let slow: String = row.get(4)?;
            Ok((
                row.get::<_, String>(0)?,
                crate::buckets::SavedMinute {
                    minute: row.get(1)?,
                    requests: row.get::<_, i64>(2)? as u64,
                    failures: row.get::<_, i64>(3)? as u64,
                    slow: serde_json::from_str(&slow).unwrap_or_default(),
                },
            ))
        })?;
        let mut out: std::collections::HashMap<String, Vec<_>> = Default::default();
        for row in rows {
            let (window, minute) = row?;
            out.entry(window).or_default().push(minute);
        }
        Ok(out)
    }

    /// Detections whose actions were not all done: (id, detection as JSON).
    pub fn pending(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, detection FROM pending ORDER BY rowid")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    }

    /// Saves every source's checkpoints and the changed windows at once,
    /// with the detections of the batch as pending (so they are acted on
    /// after a crash, and their lines are not read again) and forgetting
    /// those whose actions are done.
    pub fn save<'a>(
        &mut self,
        checkpoints: impl IntoIterator<Item = (&'a str, Vec<(&'a Path, Checkpoint)>)>,
        journal_cursors: &[(&str, &str)],
        windows: impl IntoIterator<Item = (Key, Option<Vec<Hit<LineRef>>>)>,
        pending: &[(String, String)],
        done: &[String],
        metrics: &[(String, crate::metrics::MetricSave)],
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for (source, save) in metrics {
            for (window, minutes, first) in &save.buckets {
                if minutes.is_empty() {
                    continue;
                }
                if let Some(first) = first {
                    tx.execute(
                        "DELETE FROM metric_bucket WHERE source = ?1 AND window = ?2 AND minute < ?3",
                        params![source, window, first],
                    )?;
                }
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO metric_bucket
                     (source, window, minute, requests, failures, slow)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for m in minutes {
                    insert.execute(params![
                        source,
                        window,
                        m.minute,
                        m.requests as i64,
                        m.failures as i64,
                        serde_json::to_string(&m.slow).unwrap_or_else(|_| "[]".into())
                    ])?;
                }
            }
        }
        for (source, update) in metrics
            .iter()
            .filter_map(|(s, save)| Some((s, save.history.as_ref()?)))
        {
            for key in &update.forgotten {
                tx.execute(
                    "DELETE FROM metric_history WHERE source = ?1 AND key = ?2",
                    params![source, key],
                )?;
            }
            if !update.points.is_empty() {
                tx.execute(
                    "DELETE FROM metric_history WHERE source = ?1 AND start < ?2",
                    params![source, update.before],
                )?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO metric_history
                 (source, key, start, requests, errors, slow, p95_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (key, start, p) in &update.points {
                insert.execute(params![
                    source,
                    key,
                    start,
                    p.requests as i64,
                    p.errors as i64,
                    p.slow as i64,
                    p.p95_ms
                ])?;
            }
        }
        for (source, cursor) in journal_cursors {
            tx.execute(
                "INSERT INTO journal_cursor (source, cursor) VALUES (?1, ?2)
                 ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor",
                params![source, cursor],
            )?;
        }
        for (id, detection) in pending {
            tx.execute(
                "INSERT OR REPLACE INTO pending (id, detection) VALUES (?1, ?2)",
                params![id, detection],
            )?;
        }
        for id in done {
            tx.execute("DELETE FROM pending WHERE id = ?1", [id])?;
        }
        for (source, cps) in checkpoints {
            tx.execute("DELETE FROM checkpoint WHERE source = ?1", [source])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO checkpoint (source, path, dev, ino, offset, head_len, head_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (path, cp) in cps {
                insert.execute(params![
                    source,
                    path.to_string_lossy(),
                    cp.id.dev as i64,
                    cp.id.ino as i64,
                    cp.offset as i64,
                    cp.head.len as i64,
                    cp.head.sha256,
                ])?;
            }
        }
        for ((rule, offender), hits) in windows {
            match hits {
                Some(hits) if !hits.is_empty() => {
                    let json = serde_json::to_string(&hits).unwrap_or_else(|_| "[]".into());
                    tx.execute(
                        "INSERT INTO window (rule, offender, hits) VALUES (?1, ?2, ?3)
                         ON CONFLICT (rule, offender) DO UPDATE SET hits = excluded.hits",
                        params![rule, offender.to_string(), json],
                    )?;
                }
                _ => {
                    tx.execute(
                        "DELETE FROM window WHERE rule = ?1 AND offender = ?2",
                        params![rule, offender.to_string()],
                    )?;
                }
            }
        }
        tx.commit()
    }

    /// One saved checkpoint, for tests and diagnostics.
    pub fn checkpoint(&self, source: &str, path: &Path) -> rusqlite::Result<Option<u64>> {
        self.conn
            .query_row(
                "SELECT offset FROM checkpoint WHERE source = ?1 AND path = ?2",
                params![source, path.to_string_lossy()],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|o| o.map(|v| v as u64))
    }
}
