//! Signed checkpoints: tamper evidence that does not depend on the attacker
//! leaving the database's own bookkeeping alone.
//!
//! The hash chain exposes an edit that leaves it broken; it cannot expose a
//! *consistent* rewrite (cut the end and fix `chain_head`, or re-hash every
//! event after an edit). A checkpoint closes that gap the way Certificate
//! Transparency's signed tree heads and CloudTrail's digest files do: the
//! head (event count and last hash) and the time, signed with an ed25519
//! key kept outside the database. Someone who can write the database but
//! not read the key cannot forge one, so a later audit compares the journal
//! against every checkpoint it can find:
//!
//! - fewer events than a checkpoint counted: the end was cut (or everything
//!   was deleted);
//! - the event at a checkpoint's count has another hash: events up to it
//!   were rewritten and re-hashed.
//!
//! Checkpoints are kept in the database (table `checkpoints`) *and* as lines
//! appended to files outside it (beside the key, and any witness file), so
//! deleting rows cannot delete them all. Events after the latest checkpoint
//! are only hash-linked: nothing signed covers them yet.
//!
//! A checkpoint names the journal by its absolute path and the signature
//! covers that name, so one key can sign for several journals and a
//! checkpoint of one is never taken for another's.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::store;
use crate::{Error, Result};

/// Bumped if the signed text ever changes.
const DOMAIN: &str = "tejun-checkpoint/v1";

/// One signed head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The journal's absolute path when it was signed.
    pub journal: String,
    /// Number of events then.
    pub count: i64,
    /// Hash of event `count` ([`crate::GENESIS`] for an empty journal).
    pub head: String,
    /// When it was signed (RFC 3339, UTC).
    pub time: String,
    /// The signer's ed25519 public key (hex); informative only, the audit
    /// checks against the key the auditor trusts.
    pub public_key: String,
    /// ed25519 signature (hex) over [`Checkpoint::signed_text`].
    pub signature: String,
}

impl Checkpoint {
    /// Exactly what is signed: every field but the key and signature, one
    /// per line after a domain tag (no field can contain a newline: the
    /// path is checked when signing, the rest are numbers, hex and a time).
    pub fn signed_text(&self) -> String {
        format!(
            "{DOMAIN}\n{}\n{}\n{}\n{}\n",
            self.journal, self.count, self.head, self.time
        )
    }

    /// Whether `key` signed exactly this checkpoint.
    pub fn is_signed_by(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify_strict(self.signed_text().as_bytes(), &signature)
            .is_ok()
    }

    /// One JSON line, as written to checkpoint files.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint always serialises")
    }

    pub fn parse_line(line: &str) -> Option<Checkpoint> {
        serde_json::from_str(line.trim()).ok()
    }
}

/// The name a checkpoint gives a journal: its absolute, symlink-free path.
pub fn journal_name(db: &Path) -> String {
    fs::canonicalize(db)
        .or_else(|_| std::path::absolute(db))
        .unwrap_or_else(|_| db.to_path_buf())
        .display()
        .to_string()
}

/// The audit key's companion files: `audit.key` → `audit.pub` (the public
/// key, all a verifier needs) and `audit.checkpoints` (every checkpoint
/// signed with it, one JSON line each).
pub fn public_key_path(key: &Path) -> PathBuf {
    key.with_extension("pub")
}

pub fn checkpoint_log_path(key: &Path) -> PathBuf {
    key.with_extension("checkpoints")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn bad_key(path: &Path, what: &str) -> Error {
    Error::Unusable {
        path: path.display().to_string(),
        what: what.to_string(),
    }
}

/// Creates a new key at `path` (mode 0600, refusing to overwrite one) and
/// its public key beside it; returns the public key.
pub fn create_key(path: &Path) -> Result<VerifyingKey> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| bad_key(path, &format!("no randomness: {e}")))?;
    let signing = SigningKey::from_bytes(&seed);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err(path))?;
    writeln!(file, "{}", hex::encode(seed)).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    let public = signing.verifying_key();
    let pub_path = public_key_path(path);
    fs::write(&pub_path, format!("{}\n", hex::encode(public.to_bytes())))
        .map_err(io_err(&pub_path))?;
    Ok(public)
}

/// A public key as written in `.pub` files and checkpoints.
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.to_bytes())
}

/// Reads the private key; refuses one that others can read.
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(io_err(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad_key(
                path,
                &format!(
                    "the audit key is readable by others (mode {:o}); chmod 600 it",
                    mode & 0o777
                ),
            ));
        }
    }
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad_key(path, "not a tejun audit key (64 hex digits)"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key: a file holding 64 hex digits.
pub fn load_public_key(path: &Path) -> Result<VerifyingKey> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or_else(|| bad_key(path, "not an ed25519 public key (64 hex digits)"))
}

/// Signs the current head inside one write transaction (so no append can
/// slip between reading the head and storing the checkpoint) and stores it
/// in the database.
pub fn sign_head(conn: &mut Connection, key: &SigningKey, journal: &str) -> Result<Checkpoint> {
    if journal.contains('\n') {
        return Err(bad_key(Path::new(journal), "a journal path with a newline"));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (count, head) = store::head(&tx)?.unwrap_or((0, crate::GENESIS.to_string()));
    let mut checkpoint = Checkpoint {
        journal: journal.to_string(),
        count,
        head,
        time: format!("{:.0}", Timestamp::now()),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: String::new(),
    };
    checkpoint.signature = hex::encode(key.sign(checkpoint.signed_text().as_bytes()).to_bytes());
    tx.execute(
        "INSERT INTO checkpoints (line) VALUES (?1)",
        [checkpoint.to_line()],
    )?;
    tx.commit()?;
    Ok(checkpoint)
}

/// Appends `checkpoint` as one line to `path` (created if missing) and
/// flushes it to disk.
pub fn append_line(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_err(path))?;
    writeln!(file, "{}", checkpoint.to_line()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Checkpoints stored in the database (lines that do not parse are kept
/// out; they cannot carry a valid signature anyway).
pub fn stored(conn: &Connection) -> Result<Vec<Checkpoint>> {
    // A dropped table holds no checkpoints; the files outside still do.
    let Ok(mut stmt) = conn.prepare("SELECT line FROM checkpoints ORDER BY id") else {
        return Ok(Vec::new());
    };
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if let Ok(line) = row.get::<_, String>(0)
            && let Some(checkpoint) = Checkpoint::parse_line(&line)
        {
            out.push(checkpoint);
        }
    }
    Ok(out)
}

/// Checkpoints in a file; a missing file has none.
pub fn read_file(path: &Path) -> Result<Vec<Checkpoint>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().filter_map(Checkpoint::parse_line).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// A checkpoint and where it was found.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub checkpoint: Checkpoint,
    /// `database` or the file's path.
    pub source: String,
}

/// What the checkpoints say about the journal.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointAudit {
    /// Checkpoints for this journal carrying a valid signature.
    pub valid: usize,
    /// The one with the highest count that the journal still matches.
    pub latest: Option<Found>,
    /// The first contradiction, if any.
    pub problem: Option<CheckpointProblem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum CheckpointProblem {
    /// A signed checkpoint counted more events than there are now.
    Truncated { found: Found, events: i64 },
    /// The event at a signed checkpoint's count has another hash (or the
    /// journal was re-hashed below it).
    Rewritten { found: Found },
    /// A checkpoint for this journal whose signature does not verify with
    /// the trusted key: forged, edited, or signed with another key.
    BadSignature { found: Found },
}

impl CheckpointProblem {
    pub fn found(&self) -> &Found {
        match self {
            CheckpointProblem::Truncated { found, .. }
            | CheckpointProblem::Rewritten { found }
            | CheckpointProblem::BadSignature { found } => found,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            CheckpointProblem::Truncated { .. } => "truncated",
            CheckpointProblem::Rewritten { .. } => "rewritten",
            CheckpointProblem::BadSignature { .. } => "bad-checkpoint-signature",
        }
    }

    /// (English, 日本語).
    pub fn describe(&self) -> (String, String) {
        let found = self.found();
        let cp = &found.checkpoint;
        match self {
            CheckpointProblem::Truncated { events, .. } => (
                format!(
                    "the journal has {events} events but a checkpoint signed at {} counted {} ({}): events were cut from the end or deleted",
                    cp.time, cp.count, found.source
                ),
                format!(
                    "ジャーナルのイベントは {events} 件ですが、{} に署名されたチェックポイントでは {} 件でした ({}): 末尾のイベントが削除されています",
                    cp.time, cp.count, found.source
                ),
            ),
            CheckpointProblem::Rewritten { .. } => (
                format!(
                    "event {} does not have the hash signed at {} ({}): events up to it were rewritten and re-hashed",
                    cp.count, cp.time, found.source
                ),
                format!(
                    "イベント {} のハッシュが {} に署名された値と異なります ({}): そこまでのイベントが書き換えられ、再ハッシュされています",
                    cp.count, cp.time, found.source
                ),
            ),
            CheckpointProblem::BadSignature { .. } => (
                format!(
                    "a checkpoint for count {} ({}) does not carry a valid signature of the audit key: forged or edited",
                    cp.count, found.source
                ),
                format!(
                    "件数 {} のチェックポイント ({}) に監査鍵の正しい署名がありません: 偽造または改ざんされています",
                    cp.count, found.source
                ),
            ),
        }
    }
}

/// Compares the journal against `found` checkpoints: those naming this
/// journal (`journal`) must carry `key`'s signature and match the events.
/// With `latest_only`, only the checkpoint with the highest count that
/// carries a valid signature is compared (and any invalid one above it
/// reported): enough before an append, since a rewrite below an older
/// checkpoint changes every later hash, and it costs one signature check
/// however many runs were signed.
pub fn audit(
    conn: &Connection,
    key: &VerifyingKey,
    journal: &str,
    mut found: Vec<Found>,
    latest_only: bool,
) -> Result<CheckpointAudit> {
    found.retain(|f| f.checkpoint.journal == journal);
    if latest_only {
        found.sort_by_key(|f| std::cmp::Reverse(f.checkpoint.count));
        if let Some(valid) = found.iter().position(|f| f.checkpoint.is_signed_by(key)) {
            found.truncate(valid + 1);
        }
    }
    let events: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| {
        row.get(0)
    })?;
    let mut valid = 0;
    let mut latest: Option<Found> = None;
    let mut problems = Vec::new();
    for found in found {
        let cp = &found.checkpoint;
        if !cp.is_signed_by(key) {
            problems.push(CheckpointProblem::BadSignature { found });
            continue;
        }
        valid += 1;
        if cp.count > events {
            problems.push(CheckpointProblem::Truncated { found, events });
            continue;
        }
        let hash = if cp.count == 0 {
            Some(crate::GENESIS.to_string())
        } else {
            hash_at(conn, cp.count)?
        };
        if hash.as_deref() != Some(cp.head.as_str()) {
            problems.push(CheckpointProblem::Rewritten { found });
            continue;
        }
        if latest
            .as_ref()
            .is_none_or(|l| l.checkpoint.count < cp.count)
        {
            latest = Some(found);
        }
    }
    // Report truncation and rewrites before signature problems: they say
    // what happened to the events.
    problems.sort_by_key(|p| match p {
        CheckpointProblem::Truncated { .. } => 0,
        CheckpointProblem::Rewritten { .. } => 1,
        CheckpointProblem::BadSignature { .. } => 2,
    });
    Ok(CheckpointAudit {
        valid,
        latest,
        problem: problems.into_iter().next(),
    })
}

fn hash_at(conn: &Connection, seq: i64) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    // A hash column that is not text (edited) is no hash at all.
    Ok(conn
        .query_row("SELECT hash FROM events WHERE seq = ?1", [seq], |row| {
            row.get::<_, String>(0)
        })
        .optional()
        .unwrap_or(None))
}
