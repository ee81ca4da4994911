//! Running rules over lines, with the state fail2ban keeps between lines.
//!
//! Most rules look at one line at a time. Two fail2ban features need memory:
//! `maxlines` (patterns spanning several lines, matched against a rolling
//! buffer) and `<F-MLFID>` (a connection id that ties lines together, so a
//! `<F-NOFAIL>` line can say "this connection is fine so far" and a later
//! `<F-MLFFORGET>` line closes it). The merging below follows fail2ban's
//! `Filter._mergeFailure` so annotated test logs agree.

use std::borrow::Cow;
use std::sync::Arc;

use compact_str::CompactString;
use jiff::Timestamp;
use serde::Serialize;
use smallvec::SmallVec;

use crate::RuleSet;
use crate::date::{DateContext, DateState};
use crate::decode::url_decode;
use crate::group::Group;
use crate::ip::Offender;
use crate::memo::Memo;
use crate::model::{Decode, Rule};
use crate::pattern::{Groups, PrefilterScratch};

mod connections;

use connections::{Connections, Fail};

/// Hash map for keys read from logs: foldhash is several times faster than
/// SipHash on short keys and still seeded per process.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// One offending line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// Index of the rule in its [`RuleSet`].
    pub rule: usize,
    #[serde(serialize_with = "serialize_arc_str")]
    pub rule_name: Arc<str>,
    /// Index of the failregex that matched.
    pub pattern: usize,
    pub host: Offender,
    /// The host exactly as captured (before normalisation).
    pub host_text: String,
    pub user: Option<String>,
    /// `None` when the line's date could not be read (counted by callers).
    pub time: Option<Timestamp>,
    pub line: String,
}

/// A hit borrowed from the line being matched (see [`Matcher::feed_into`]).
#[derive(Debug, Clone, Copy)]
pub struct HitRef<'a> {
    pub rule: usize,
    pub rule_name: &'a Arc<str>,
    pub pattern: usize,
    /// The host exactly as captured (parse it with [`Offender::parse`]).
    pub host_text: &'a str,
    pub user: Option<&'a str>,
    pub time: Option<Timestamp>,
    pub line: &'a str,
}

impl HitRef<'_> {
    pub fn to_hit(&self) -> Hit {
        Hit {
            rule: self.rule,
            rule_name: self.rule_name.clone(),
            pattern: self.pattern,
            host: Offender::parse(self.host_text),
            host_text: self.host_text.to_string(),
            user: self.user.map(str::to_string),
            time: self.time,
            line: self.line.to_string(),
        }
    }
}

/// Where [`Matcher::feed_into`] puts hits.
pub trait HitSink {
    fn hit(&mut self, hit: HitRef<'_>);
}

impl HitSink for Vec<Hit> {
    fn hit(&mut self, hit: HitRef<'_>) {
        self.push(hit.to_hit());
    }
}

fn serialize_arc_str<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// What happened to one line besides its hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Hits whose date could not be read.
    pub undated: usize,
    /// Patterns that gave up on this line (backtracking limit).
    pub match_errors: usize,
}

/// The named groups of one failure: a handful of known names, so an
/// inline vector (no hashing, no allocation) instead of a hash map. Values
/// are borrowed from the line until a connection id needs them stored.
#[derive(Debug, Clone)]
struct GroupMap<V>(SmallVec<[(Group, V); 4]>);

impl<V> Default for GroupMap<V> {
    fn default() -> Self {
        GroupMap(SmallVec::new())
    }
}

impl<V: AsRef<str>> GroupMap<V> {
    fn get(&self, group: Group) -> Option<&V> {
        self.0.iter().find(|(k, _)| *k == group).map(|(_, v)| v)
    }
    fn has(&self, group: Group) -> bool {
        self.get(group).is_some_and(|v| !v.as_ref().is_empty())
    }
    /// Sets `group`, replacing an earlier value (a map's insert).
    fn insert(&mut self, group: Group, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == group) {
            Some(slot) => slot.1 = value,
            None => self.0.push((group, value)),
        }
    }
    fn remove(&mut self, group: Group) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| *k == group)?;
        Some(self.0.swap_remove(i).1)
    }
    /// The offender as captured: the first host-like group present.
    fn host(&self) -> Option<&str> {
        Group::OFFENDER
            .iter()
            .find_map(|k| self.get(*k))
            .map(AsRef::as_ref)
    }
    /// The user: `user` when not empty, else `alt_user`.
    fn user(&self) -> Option<&str> {
        self.get(Group::User)
            .map(AsRef::as_ref)
            .filter(|u| !u.is_empty())
            .or_else(|| self.get(Group::AltUser).map(AsRef::as_ref))
    }
}

#[derive(Debug, Default)]
struct RuleState {
    dates: DateState,
    last_time: Option<Timestamp>,
    buffer: Vec<String>,
    connections: Connections,
}

/// Stateful matching of a rule set over a stream of lines.
#[derive(Debug)]
pub struct Matcher<'r> {
    rules: &'r RuleSet,
    states: Vec<RuleState>,
    scratch: Scratch,
    /// Per rule: capture results remembered by shape of text.
    memos: Vec<RuleMemos>,
}

/// One rule's [`Memo`]s (its prefregex's, then one per failregex) and
/// this thread's scratch for its prefilter.
#[derive(Debug, Default)]
struct RuleMemos {
    prefregex: Memo,
    failregex: Vec<Memo>,
    prefilter: PrefilterScratch,
}

/// Buffers reused from line to line so matching a line does not allocate.
#[derive(Debug, Default)]
struct Scratch {
    /// The line with its date cut out.
    cut: String,
}

impl<'r> Matcher<'r> {
    pub fn new(rules: &'r RuleSet) -> Matcher<'r> {
        Matcher::build(rules, Memo::default)
    }

    /// A matcher that searches every line afresh, remembering nothing by
    /// shape (see [`crate::memo`]). Results are the same; this exists so
    /// tests can prove it (`tests/remembered.rs`).
    pub fn full_path(rules: &'r RuleSet) -> Matcher<'r> {
        Matcher::build(rules, Memo::disabled)
    }

    fn build(rules: &'r RuleSet, memo: fn() -> Memo) -> Matcher<'r> {
        Matcher {
            rules,
            states: rules
                .rules
                .iter()
                .map(|_| RuleState {
                    dates: DateState::new(memo),
                    ..RuleState::default()
                })
                .collect(),
            scratch: Scratch::default(),
            memos: rules
                .rules
                .iter()
                .map(|r| RuleMemos {
                    prefregex: memo(),
                    failregex: r.failregex.iter().map(|_| memo()).collect(),
                    prefilter: PrefilterScratch::default(),
                })
                .collect(),
        }
    }

    /// Forgets what earlier lines left (connection ids, the last date, a
    /// multi-line buffer), as at the start of a file; caches are kept. A
    /// file scanned in parts restarts at each part, so each part's result
    /// does not depend on which thread scanned it or what before.
    pub fn restart(&mut self) {
        for state in &mut self.states {
            state.dates.restart();
            state.last_time = None;
            state.buffer.clear();
            state.connections = Connections::default();
        }
    }

    /// Matches one line (without its newline) against every rule, appending
    /// hits to `out`.
    pub fn feed(&mut self, line: &str, ctx: &DateContext, out: &mut Vec<Hit>) -> LineStats {
        self.feed_into(line, None, ctx, out)
    }

    /// Like [`Matcher::feed`] for a line whose time is already known (a
    /// journal entry): no date is searched in the text.
    pub fn feed_at(
        &mut self,
        line: &str,
        time: Timestamp,
        ctx: &DateContext,
        out: &mut Vec<Hit>,
    ) -> LineStats {
        self.feed_into(line, Some(time), ctx, out)
    }

    /// Matches one line and hands each hit, borrowed, to `sink`: callers
    /// that only count (batch scans) copy nothing per hit.
    pub fn feed_into<S: HitSink + ?Sized>(
        &mut self,
        line: &str,
        time: Option<Timestamp>,
        ctx: &DateContext,
        sink: &mut S,
    ) -> LineStats {
        let one_line = memchr::memchr(b'\n', line.as_bytes()).is_none();
        self.feed_text(line, one_line, time, ctx, sink)
    }

    /// [`Matcher::feed_into`] for a line cut from a file at its newlines
    /// (so it holds none): no search for one.
    pub fn feed_split_line<S: HitSink + ?Sized>(
        &mut self,
        line: &str,
        ctx: &DateContext,
        sink: &mut S,
    ) -> LineStats {
        self.feed_text(line, true, None, ctx, sink)
    }

    fn feed_text<S: HitSink + ?Sized>(
        &mut self,
        line: &str,
        one_line: bool,
        time: Option<Timestamp>,
        ctx: &DateContext,
        sink: &mut S,
    ) -> LineStats {
        let mut stats = LineStats::default();
        for (index, rule) in self.rules.rules.iter().enumerate() {
            feed_rule(
                index,
                rule,
                &mut self.states[index],
                &mut self.scratch,
                &mut self.memos[index],
                line,
                one_line,
                time,
                ctx,
                sink,
                &mut stats,
            );
        }
        stats
    }
}

#[allow(clippy::too_many_arguments)]
fn feed_rule<S: HitSink + ?Sized>(
    index: usize,
    rule: &Rule,
    state: &mut RuleState,
    scratch: &mut Scratch,
    memos: &mut RuleMemos,
    line: &str,
    one_line: bool,
    known_time: Option<Timestamp>,
    ctx: &DateContext,
    sink: &mut S,
    stats: &mut LineStats,
) {
    let (text, mut time, date_done): (Cow<'_, str>, Option<Timestamp>, bool) =
        if known_time.is_some() {
            (Cow::Borrowed(line), known_time, true)
        } else if rule.cut_date {
            match rule
                .dates
                .find(line, ctx, &mut state.dates)
                .filter(|f| f.end > f.start)
            {
                Some(found) => {
                    if found.time.is_some() {
                        state.last_time = found.time;
                    }
                    // A date that starts the line (syslog) leaves a suffix:
                    // borrowed, not copied.
                    let text = if found.start == 0 {
                        &line[found.end..]
                    } else {
                        let cut = &mut scratch.cut;
                        cut.clear();
                        cut.push_str(&line[..found.start]);
                        cut.push_str(&line[found.end..]);
                        cut.as_str()
                    };
                    (Cow::Borrowed(text), found.time, true)
                }
                // fail2ban: a line without a date (a continuation line)
                // takes the date of the last line that had one.
                None => (Cow::Borrowed(line), state.last_time, true),
            }
        } else {
            (Cow::Borrowed(line), None, false)
        };
    let text = match rule.decode {
        Decode::None => text,
        Decode::Url => match url_decode(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(decoded) => Cow::Owned(decoded),
        },
    };

    let multi = rule.maxlines > 1;
    // A decoded line may hold a newline its text did not.
    let one_line = one_line && !multi && matches!(text, Cow::Borrowed(_));
    let owned_buf;
    let buf: &str = if multi {
        state.buffer.push(text.into_owned());
        let excess = state.buffer.len().saturating_sub(rule.maxlines);
        state.buffer.drain(..excess);
        owned_buf = Cow::Owned(state.buffer.join("\n") + "\n");
        &owned_buf
    } else {
        // Borrowed unless the date was cut or the line decoded: no copy.
        owned_buf = text;
        &owned_buf
    };

    // fail2ban checks ignoreregex up front when there are few of them.
    if !rule.ignoreregex.is_empty()
        && rule.ignoreregex.len() + 2 < rule.failregex.len()
        && ignored(rule, buf, stats)
    {
        return;
    }

    // The prefregex groups stay borrowed until a failregex matches: most
    // lines that pass the prefregex match nothing, and copying them into a
    // `Fail` cost two allocations per line.
    let mut pre: Option<Groups<'_>> = None;
    let content: &str = match &rule.prefregex {
        Some(p) => match p.captures_with(&mut memos.prefregex, buf, one_line) {
            Ok(Some(groups)) => {
                let content = groups.get(Group::Content).unwrap_or(buf);
                pre = Some(groups);
                content
            }
            Ok(None) => return,
            Err(_) => {
                stats.match_errors += 1;
                return;
            }
        },
        None => buf,
    };

    let candidates = match rule.prefilter() {
        Some(pf) => match pf.candidates(content, &mut memos.prefilter) {
            Some(candidates) => Some(candidates),
            None => return,
        },
        None => None,
    };
    let skip = candidates.map_or(0, |c| c.skip());
    for (pattern_index, pattern) in rule.failregex.iter().enumerate().skip(skip) {
        if candidates.is_some_and(|c| !c.contains(pattern_index)) {
            continue;
        }
        let groups =
            match pattern.captures_with(&mut memos.failregex[pattern_index], content, one_line) {
                Ok(Some(g)) => g,
                Ok(None) => continue,
                Err(_) => {
                    stats.match_errors += 1;
                    continue;
                }
            };
        if !rule.ignoreregex.is_empty() && {
            let ignore_in: Cow<'_, str> = if multi {
                Cow::Owned(matched_lines(content, groups.whole))
            } else {
                Cow::Borrowed(content)
            };
            ignored(rule, &ignore_in, stats)
        } {
            if multi {
                remove_matched(&mut state.buffer, content, groups.whole);
            }
            return;
        }
        // Borrowed from the line: a failure without a connection id (most
        // rules) is reported without copying any group.
        let mut found: GroupMap<&str> = GroupMap::default();
        if let Some(pre) = &pre {
            for (k, v) in pre.iter().filter(|(k, _)| *k != Group::Content) {
                found.insert(k, v);
            }
        }
        for (k, v) in groups.iter() {
            found.insert(k, v);
        }
        // fail2ban merges `<F-ALT_USER>` into `user` when that is empty.
        if !found.has(Group::User)
            && let Some(alt) = found.get(Group::AltUser).filter(|v| !v.is_empty())
        {
            found.insert(Group::User, *alt);
        }
        if multi {
            remove_matched(&mut state.buffer, content, groups.whole);
        }
        let mlfid = found.get(Group::Mlfid).copied();
        let merged;
        let (host_text, user) = match mlfid {
            None => (found.host(), found.user()),
            Some(id) => {
                // The id itself is the cache key; no copy of it is read back.
                let groups = found
                    .0
                    .iter()
                    .filter(|(k, _)| *k != Group::Mlfid)
                    .map(|(k, v)| (*k, CompactString::from(*v)))
                    .collect();
                let fail = Fail::new(time, GroupMap(groups));
                merged = state.connections.merge(id, fail);
                if merged.nofail {
                    return;
                }
                (merged.host, merged.user)
            }
        };
        let Some(host_text) = host_text else {
            // A connection whose address is not known yet: remember that a
            // failure is pending for it.
            if let Some(id) = mlfid {
                state.connections.mark_pending(id);
            }
            return;
        };
        if !date_done {
            time = rule
                .dates
                .find(line, ctx, &mut state.dates)
                .and_then(|f| f.time);
        }
        if time.is_none() {
            stats.undated += 1;
        }
        sink.hit(HitRef {
            rule: index,
            rule_name: &rule.name,
            pattern: pattern_index,
            host_text,
            user,
            time,
            line,
        });
        return;
    }
}

fn ignored(rule: &Rule, text: &str, stats: &mut LineStats) -> bool {
    rule.ignoreregex.iter().any(|p| match p.is_match(text) {
        Ok(m) => m,
        Err(_) => {
            stats.match_errors += 1;
            false
        }
    })
}

/// The whole lines a match spans in a multi-line buffer.
fn matched_lines(buf: &str, (start, end): (usize, usize)) -> String {
    let line_start = buf[..start].rfind('\n').map_or(0, |p| p + 1);
    let line_end = buf[end.saturating_sub(1).max(start)..]
        .find('\n')
        .map_or(buf.len(), |p| p + end.saturating_sub(1).max(start) + 1);
    buf[line_start..line_end].to_string()
}

/// Drops the lines a match used from the buffer (fail2ban keeps only the
/// unmatched ones for the next round).
fn remove_matched(buffer: &mut Vec<String>, buf: &str, (start, end): (usize, usize)) {
    let first = buf[..start].matches('\n').count();
    let last = buf[..end.max(start + 1).min(buf.len())]
        .matches('\n')
        .count();
    let last = if buf[..end.min(buf.len())].ends_with('\n') {
        last.saturating_sub(1)
    } else {
        last
    };
    if first < buffer.len() {
        let last = last.min(buffer.len() - 1);
        buffer.drain(first..=last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan thread that finds the prefilter being built by another goes
    /// on without it: same hits on fail2ban's sshd test log.
    #[test]
    fn lines_matched_while_the_prefilter_is_built_elsewhere_hit_the_same() {
        let filter = std::path::Path::new("/etc/fail2ban/filter.d/sshd.conf");
        let log = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/sshd";
        let text = std::fs::read_to_string(log).expect("apt-get install -y fail2ban");
        let ctx = DateContext::new(
            jiff::tz::TimeZone::UTC,
            "2026-12-01T00:00:00Z".parse().unwrap(),
        );
        let hits = |rules: &RuleSet| {
            let mut matcher = Matcher::new(rules);
            let mut hits = Vec::new();
            for line in text.lines() {
                matcher.feed(line, &ctx, &mut hits);
            }
            hits
        };
        let with = RuleSet::from_fail2ban(filter, None).unwrap();
        assert!(with.rules[0].prefilter().is_some());
        let without = RuleSet::from_fail2ban(filter, None).unwrap();
        without.rules[0]
            .prefilter_claimed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(without.rules[0].prefilter().is_none());
        let expected = hits(&with);
        assert!(expected.len() > 50, "{} hits", expected.len());
        assert_eq!(hits(&without), expected);
    }
}
