//! Walking the chain and naming the first event that does not verify.
//!
//! The audit assumes an attacker with `sqlite3` on the database file: they
//! can edit any column, delete or insert rows, renumber them, and change the
//! refs table. For each event, in seq order:
//!
//! 1. its seq must be the next one (else an event is missing: `Deleted`);
//! 2. its `prev_hash` must equal the previous event's hash (else it was
//!    inserted or moved: `BrokenLink`);
//! 3. its hash must equal the hash recomputed over its stored fields and
//!    refs (else it was edited: `Edited`).
//!
//! The link is checked before the content so that a moved event is reported
//! as moved, not as edited. After the last event the chain head (count and
//! last hash, written by every append in the same transaction) must match,
//! which catches events cut from the end.
//!
//! The walk streams rows (events and refs merged by seq) and runs in one
//! read transaction, so it sees a consistent snapshot while others append.

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::chain::{self, Fields, GENESIS};
use crate::store;
use crate::{Result, Tamper, TamperKind, VerifyReport};

/// Walks the whole chain.
pub fn walk(conn: &mut Connection) -> Result<VerifyReport> {
    walk_from(conn, None)
}

/// Walks only the last `last` events (as counted by the head), trusting
/// the stored hash of the event before them: the cheap check made before
/// appending. `checked` then counts up to the last seq walked.
pub fn walk_tail(conn: &mut Connection, last: i64) -> Result<VerifyReport> {
    walk_from(conn, Some(last))
}

fn walk_from(conn: &mut Connection, last: Option<i64>) -> Result<VerifyReport> {
    let tx = conn.transaction()?;
    // Reading the head first pins the snapshot for the whole walk.
    let head = store::head(&tx)?;
    let from = match (last, &head) {
        (Some(last), Some((count, _))) => (count - last + 1).max(1),
        _ => 1,
    };
    let fail = |checked, seq, problem| {
        Ok(VerifyReport {
            checked,
            first_bad: Some(Tamper { seq, problem }),
        })
    };
    let mut checked: i64 = from - 1;
    let mut prev_hash = GENESIS.to_string();
    if from > 1 {
        let before: Option<String> = tx
            .query_row(
                "SELECT hash FROM events WHERE seq = ?1",
                [from - 1],
                |row| row.get(0),
            )
            .ok();
        match before {
            Some(hash) => prev_hash = hash,
            None => return fail(from - 2, from - 1, TamperKind::Deleted),
        }
    }
    let mut events = tx.prepare(
        "SELECT seq, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash
         FROM events WHERE seq >= ?1 ORDER BY seq",
    )?;
    let mut refs_stmt =
        tx.prepare("SELECT seq, subject FROM event_refs WHERE seq >= ?1 ORDER BY seq, pos")?;
    let mut refs_rows = refs_stmt.query([from])?;
    let mut pending_ref: Option<(i64, Option<String>)> = next_ref(&mut refs_rows)?;

    let mut rows = events.query([from])?;
    while let Some(row) = rows.next()? {
        let expected = checked + 1;
        let seq: i64 = match row.get_ref(0)? {
            ValueRef::Integer(seq) => seq,
            // INTEGER PRIMARY KEY is always an integer; be defensive anyway.
            _ => return fail(checked, expected, TamperKind::Edited),
        };
        if seq != expected {
            return fail(checked, expected, TamperKind::Deleted);
        }

        // Gather this event's refs from the merged ref stream.
        let mut refs = Vec::new();
        let mut refs_malformed = false;
        while let Some((ref_seq, subject)) = &pending_ref {
            if *ref_seq > seq {
                break;
            }
            if *ref_seq == seq {
                match subject {
                    Some(subject) => refs.push(subject.clone()),
                    None => refs_malformed = true,
                }
            } else {
                // Every seq below this one was consumed already, so this
                // ref (seq < 1) belongs to no event: a forged row.
                return fail(checked, 1, TamperKind::Edited);
            }
            pending_ref = next_ref(&mut refs_rows)?;
        }

        let texts: Vec<Option<&str>> = (1..=8).map(|i| text(row.get_ref(i).ok())).collect();
        let [
            ts,
            recorded_at,
            stream,
            kind,
            actor,
            payload,
            row_prev,
            row_hash,
        ] = texts[..]
        else {
            unreachable!("eight columns were selected")
        };
        if row_prev != Some(prev_hash.as_str()) {
            return fail(checked, seq, TamperKind::BrokenLink);
        }
        let (
            Some(ts),
            Some(recorded_at),
            Some(stream),
            Some(kind),
            Some(actor),
            Some(payload),
            Some(row_hash),
        ) = (ts, recorded_at, stream, kind, actor, payload, row_hash)
        else {
            return fail(checked, seq, TamperKind::Edited);
        };
        let recomputed = chain::hash(&Fields {
            seq,
            ts,
            recorded_at,
            stream,
            refs: &refs,
            kind,
            actor,
            payload,
            prev_hash: &prev_hash,
        });
        if refs_malformed || recomputed != row_hash {
            return fail(checked, seq, TamperKind::Edited);
        }
        prev_hash = row_hash.to_string();
        checked = seq;
    }
    if let Some((count, _)) = &head
        && *count > checked
    {
        // Cut from the end (any refs left behind are that event's).
        return fail(checked, checked + 1, TamperKind::Deleted);
    }
    if pending_ref.is_some() {
        // A ref pointing past the last event: attached to the last one.
        return fail(checked, checked.max(1), TamperKind::Edited);
    }
    match head {
        None if checked == 0 => {}
        None => return fail(checked, 1, TamperKind::HeadMismatch),
        Some((count, _)) if count < checked => {
            return fail(checked, count + 1, TamperKind::HeadMismatch);
        }
        Some((count, head_hash)) if head_hash != prev_hash => {
            return fail(checked, count.max(1), TamperKind::HeadMismatch);
        }
        Some(_) => {}
    }
    Ok(VerifyReport {
        checked,
        first_bad: None,
    })
}

/// A column's text, or `None` if it is NULL, a number or a blob (which the
/// journal never writes, so the row was edited).
fn text(value: Option<ValueRef<'_>>) -> Option<&str> {
    match value? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// The next ref row as (seq, subject), subject `None` if it isn't text.
fn next_ref(rows: &mut rusqlite::Rows<'_>) -> Result<Option<(i64, Option<String>)>> {
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let seq = match row.get_ref(0)? {
        ValueRef::Integer(seq) => seq,
        // A non-integer seq sorts after all integers in SQLite; pin it past
        // the end so it is reported against the last event.
        _ => i64::MAX,
    };
    Ok(Some((seq, text(row.get_ref(1).ok()).map(str::to_string))))
}
