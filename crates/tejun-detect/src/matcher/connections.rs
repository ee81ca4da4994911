//! fail2ban's connection cache (`<F-MLFID>`): what is known about each
//! connection id, merged line by line as `Filter._mergeFailure` does.
//!
//! Most hits open a connection of their own (sshd's id is its pid), so the
//! common path is a miss, an eviction and an insert. The id is hashed once
//! for all three: entries keep their hash, so the insert, the eviction
//! (found by hash and insertion number) and any rehash hash no string.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use compact_str::CompactString;
use hashbrown::HashTable;
use jiff::Timestamp;

use super::GroupMap;
use crate::group::Group;

/// Bound on remembered connection ids per rule and thread: fail2ban's own
/// (`Utils.Cache(maxCount=100, maxTime=5*60)`). Ten times as many held
/// 240 KB per thread that each line's insert and eviction missed in cache.
pub(super) const CACHE_MAX: usize = 100;
const MAX_AGE_SECS: i64 = 300;

/// What is known about one connection.
#[derive(Debug, Clone, Default)]
pub(super) struct Fail {
    /// Date of the line that created the cache entry (entries expire after
    /// five minutes of log time, as in fail2ban).
    since: Option<Timestamp>,
    groups: GroupMap<CompactString>,
    users: Users,
    pending: bool,
    /// Insertion number in the cache (FIFO eviction, see [`Connections`]).
    seq: u64,
}

impl Fail {
    /// A failure found on a line dated `since`.
    pub(super) fn new(since: Option<Timestamp>, groups: GroupMap<CompactString>) -> Fail {
        Fail {
            since,
            groups,
            ..Fail::default()
        }
    }

    fn has(&self, group: Group) -> bool {
        self.groups.get(group).is_some_and(|v| !v.is_empty())
    }
}

/// The users a connection tried. fail2ban keeps a set, but only asks
/// whether it holds more than one: the first is kept, and whether another
/// was seen (a vector per connection cost an allocation per line).
#[derive(Debug, Clone, Default)]
struct Users {
    first: Option<CompactString>,
    several: bool,
}

impl Users {
    fn add(&mut self, user: &str) {
        match &self.first {
            None => self.first = Some(CompactString::from(user)),
            Some(first) => self.several |= first != user,
        }
    }
}

/// What a merged failure says about the line that produced it, borrowed
/// from the connection it was merged into.
#[derive(Default)]
pub(super) struct Merged<'c> {
    pub nofail: bool,
    pub host: Option<&'c str>,
    pub user: Option<&'c str>,
}

/// Connection id → what is known about it, evicted oldest first.
///
/// fail2ban's cache is an `OrderedDict` that evicts its oldest entry when
/// full; evicting an arbitrary hash-map key instead made results differ
/// from run to run. Ids, users and hosts are short, so [`CompactString`]
/// keeps them inline: remembering a connection allocates nothing per group.
#[derive(Debug, Default, Clone)]
pub(super) struct Connections {
    cache: HashTable<Connection>,
    hasher: foldhash::fast::RandomState,
    /// Insertion order, as (insertion number, hash of the id). Entries whose
    /// id was removed or re-inserted since stay here until they reach the
    /// front or a compaction (no entry with that number is found).
    order: VecDeque<(u64, u64)>,
    next: u64,
    /// The last connection closed (`<F-MLFFORGET>`), which the merged
    /// result borrows from.
    closed: Fail,
}

/// One remembered connection.
#[derive(Debug, Clone)]
struct Connection {
    hash: u64,
    id: CompactString,
    fail: Fail,
}

impl Connections {
    /// fail2ban's `_mergeFailure`: combines `fail`, found on a line dated
    /// `fail.since`, with what is known about connection `mlfid`. An entry
    /// last opened more than five minutes (log time) before is forgotten
    /// first.
    pub(super) fn merge(&mut self, mlfid: &str, mut fail: Fail) -> Merged<'_> {
        let mut flags = 0u8;
        if fail.has(Group::Mlfgained) {
            flags |= 8 | 1;
            if !fail.has(Group::Nofail) {
                let gained = fail
                    .groups
                    .get(Group::Mlfgained)
                    .cloned()
                    .unwrap_or_default();
                fail.groups.insert(Group::Nofail, gained);
            }
        } else if fail.has(Group::Nofail) {
            flags |= 1;
        }
        if fail
            .groups
            .remove(Group::Mlfforget)
            .is_some_and(|v| !v.is_empty())
        {
            flags |= 2;
        }
        let forget = flags & 2 != 0;
        let user = fail.groups.get(Group::User).cloned();
        let user = user.as_deref();

        let hash = self.hasher.hash_one(mlfid);
        // Looked up before it is changed: a merged result borrows from the
        // cache, so no borrow of it may outlive a branch that goes on.
        match self.cache.find(hash, |c| c.id == mlfid) {
            Some(cached) if stale(&cached.fail, fail.since) => self.forget(hash, mlfid),
            Some(_) => return self.merge_known(hash, mlfid, fail, user, flags),
            None => {}
        }
        if forget {
            self.closed = fail;
            return settle(&mut self.closed, false);
        }
        if let Some(u) = user {
            fail.users.add(u);
        }
        if self.cache.len() >= CACHE_MAX {
            self.evict_oldest();
        }
        fail.seq = self.push_order(hash);
        let connection = Connection {
            hash,
            id: CompactString::from(mlfid),
            fail,
        };
        let entry = self.cache.insert_unique(hash, connection, |c| c.hash);
        settle(&mut entry.into_mut().fail, false)
    }

    /// [`Connections::merge`] into the connection `mlfid` is known as.
    fn merge_known(
        &mut self,
        hash: u64,
        mlfid: &str,
        mut fail: Fail,
        user: Option<&str>,
        mut flags: u8,
    ) -> Merged<'_> {
        let Ok(mut entry) = self.cache.find_entry(hash, |c| c.id == mlfid) else {
            return Merged::default();
        };
        let cached = &mut entry.get_mut().fail;
        if let Some(u) = user {
            cached.users.add(u);
        }
        let several = cached.users.several;
        if cached.groups.remove(Group::Nofail).is_some() {
            flags |= 4;
        }
        if cached.groups.remove(Group::Mlfgained).is_some() {
            flags |= 4;
        }
        if flags & 8 != 0 {
            cached.pending = false;
        }
        for (k, v) in fail.groups.0.drain(..) {
            cached.groups.insert(k, v);
        }
        if flags & 2 != 0 {
            self.closed = entry.remove().0.fail;
            settle(&mut self.closed, several)
        } else {
            settle(&mut entry.into_mut().fail, several)
        }
    }

    /// Remembers that a failure is pending for a connection whose address
    /// is not known yet.
    pub(super) fn mark_pending(&mut self, mlfid: &str) {
        let hash = self.hasher.hash_one(mlfid);
        if let Some(cached) = self.cache.find_mut(hash, |c| c.id == mlfid) {
            cached.fail.pending = true;
        }
    }

    fn forget(&mut self, hash: u64, mlfid: &str) {
        if let Ok(entry) = self.cache.find_entry(hash, |c| c.id == mlfid) {
            entry.remove();
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((seq, hash)) = self.order.pop_front() {
            if let Ok(entry) = self.cache.find_entry(hash, |c| c.fail.seq == seq) {
                entry.remove();
                return;
            }
        }
    }

    /// Records a new cache entry and returns its insertion number.
    fn push_order(&mut self, hash: u64) -> u64 {
        // Bounded: stale entries are dropped once they outnumber live ones.
        if self.order.len() > 2 * CACHE_MAX + 16 {
            let cache = &self.cache;
            self.order
                .retain(|(seq, hash)| cache.find(*hash, |c| c.fail.seq == *seq).is_some());
        }
        self.next += 1;
        self.order.push_back((self.next, hash));
        self.next
    }

    #[cfg(test)]
    fn contains(&self, mlfid: &str) -> bool {
        let hash = self.hasher.hash_one(mlfid);
        self.cache.find(hash, |c| c.id == mlfid).is_some()
    }

    #[cfg(test)]
    fn remove(&mut self, mlfid: &str) {
        self.forget(self.hasher.hash_one(mlfid), mlfid);
    }
}

/// Whether `cached` was opened more than five minutes (log time) before
/// `now`.
fn stale(cached: &Fail, now: Option<Timestamp>) -> bool {
    match (cached.since, now) {
        (Some(since), Some(now)) => now.as_second() - since.as_second() > MAX_AGE_SECS,
        _ => false,
    }
}

/// The end of `_mergeFailure`: a connection that had a failure pending, or
/// that tried `several` users, is no longer "fine so far".
fn settle(target: &mut Fail, several: bool) -> Merged<'_> {
    let was_pending = std::mem::take(&mut target.pending);
    if was_pending || several {
        target.groups.remove(Group::Nofail);
        target.groups.remove(Group::Mlfgained);
    }
    Merged {
        nofail: target.has(Group::Nofail),
        host: target.groups.host(),
        user: target.groups.user(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_evicts_the_oldest_id() {
        let mut conns = Connections::default();
        for i in 0..CACHE_MAX {
            conns.merge(&format!("c{i}"), Fail::default());
        }
        // A forgotten and re-opened id counts as new.
        conns.remove("c0");
        conns.merge("c0", Fail::default());
        conns.merge("extra", Fail::default());
        assert_eq!(conns.cache.len(), CACHE_MAX);
        assert!(conns.contains("c0"));
        assert!(!conns.contains("c1"));
        assert!(conns.contains("c2"));
        assert!(conns.contains("extra"));
    }

    /// fail2ban's `users` set: a connection that tried a second user is
    /// no longer "fine so far"; the same user again keeps it so.
    #[test]
    fn a_second_user_on_a_connection_ends_fine_so_far() {
        let nofail = |user: &str| {
            let mut groups = GroupMap::default();
            groups.insert(Group::Nofail, "x".into());
            groups.insert(Group::User, user.into());
            Fail::new(None, groups)
        };
        let mut conns = Connections::default();
        assert!(conns.merge("c", nofail("root")).nofail);
        assert!(conns.merge("c", nofail("root")).nofail);
        let merged = conns.merge("c", nofail("admin"));
        assert!(!merged.nofail);
        assert_eq!(merged.user, Some("admin"));
    }

    #[test]
    fn an_id_older_than_five_minutes_starts_afresh() {
        let at = |s: i64| Some(Timestamp::from_second(s).unwrap());
        let nofail = |since| {
            let mut groups = GroupMap::default();
            groups.insert(Group::Nofail, "x".into());
            Fail::new(since, groups)
        };
        let mut conns = Connections::default();
        assert!(conns.merge("c", nofail(at(0))).nofail);
        conns.mark_pending("c");
        // Within five minutes the pending failure clears "fine so far".
        assert!(!conns.clone().merge("c", nofail(at(300))).nofail);
        // After them the entry is forgotten: fine so far again.
        assert!(conns.merge("c", nofail(at(301))).nofail);
    }
}
