//! Which bans are in force, derived from the journal.
//!
//! Bans are not kept in a table of their own: `ban.added` and `ban.removed`
//! events are folded into the set of bans in force. One record means `tejun
//! bans`, `tejun unban` (another process) and the watcher can never
//! disagree, a ban survives any restart of the watcher, and the audit trail
//! of who was banned when is the same data that decides what is banned.
//! The watcher folds incrementally (`after_seq`), so the cost per refresh
//! is the number of new ban events, not the history.

use std::collections::BTreeMap;

use jiff::Timestamp;
use tejun_journal::{Journal, Query};

use crate::events::{BAN_ADDED, BAN_REMOVED, BanAdded, BanRemoved, RemoveReason};

/// A ban as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ban {
    pub offender: String,
    pub rule: String,
    pub since: Timestamp,
    pub until: Timestamp,
    pub bantime_s: i64,
    pub backend: String,
}

/// Bans in force (not lifted), by offender; includes bans past their
/// `until` that no one has expired yet.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    bans: BTreeMap<String, Ban>,
    last_seq: i64,
}

/// What changed in one refresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub added: Vec<Ban>,
    pub removed: Vec<(String, RemoveReason)>,
}

impl Ledger {
    /// Folds the whole journal.
    pub fn load(journal: &Journal) -> tejun_journal::Result<Ledger> {
        let mut ledger = Ledger::default();
        ledger.refresh(journal)?;
        Ok(ledger)
    }

    /// Folds the ban events written since the last refresh (by anyone).
    pub fn refresh(&mut self, journal: &Journal) -> tejun_journal::Result<Changes> {
        let entries = journal.query(&Query {
            stream_prefix: Some("ban/"),
            kind_prefix: Some("ban."),
            after_seq: Some(self.last_seq),
            ..Query::default()
        })?;
        let mut changes = Changes::default();
        for entry in entries {
            self.last_seq = entry.seq;
            match entry.kind.as_str() {
                BAN_ADDED => {
                    let added: BanAdded = entry.decode()?;
                    let ban = Ban {
                        offender: added.offender.clone(),
                        rule: added.rule,
                        since: entry.ts,
                        until: added.until,
                        bantime_s: added.bantime_s,
                        backend: added.backend,
                    };
                    changes.added.push(ban.clone());
                    self.bans.insert(added.offender, ban);
                }
                BAN_REMOVED => {
                    let removed: BanRemoved = entry.decode()?;
                    if self.bans.remove(&removed.offender).is_some() {
                        changes.removed.push((removed.offender, removed.reason));
                    }
                }
                _ => {}
            }
        }
        Ok(changes)
    }

    /// Bans still in force at `now`, soonest to end first.
    pub fn active(&self, now: Timestamp) -> Vec<&Ban> {
        let mut bans: Vec<&Ban> = self.bans.values().filter(|b| b.until > now).collect();
        bans.sort_by(|a, b| {
            a.until
                .cmp(&b.until)
                .then_with(|| a.offender.cmp(&b.offender))
        });
        bans
    }

    /// Bans whose time is up but that were not removed yet.
    pub fn overdue(&self, now: Timestamp) -> Vec<&Ban> {
        self.bans.values().filter(|b| b.until <= now).collect()
    }

    pub fn get(&self, offender: &str) -> Option<&Ban> {
        self.bans.get(offender)
    }
}
