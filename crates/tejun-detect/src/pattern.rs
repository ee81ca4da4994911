//! One compiled pattern on the engine it needs.
//!
//! Linear time is the default: the `regex` crate cannot be made to blow up
//! by a crafted log line (ReDoS), so every pattern that can run there does.
//! Only a pattern that uses look-around, back-references or conditionals is
//! compiled with `fancy-regex`, with a backtracking limit: a line that hits
//! the limit is an error for that line (counted and reported), never a hang.

use std::fmt;
use std::sync::OnceLock;

use regex_automata::meta;
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::{Input, MatchKind, PatternID, PatternSet, hybrid};
use regex_syntax::hir::{Hir, HirKind, Look};
use serde::Serialize;
use smallvec::SmallVec;

use crate::group::Group;
use crate::pyregex;

mod leading;
mod rewrite;
mod tail;
mod tree;

use crate::memo::{Memo, Shape, Slot, spans_of, spans_of_captures};
use rewrite::{Exact, Verdict};
use tail::Tail;

/// Backtracking steps allowed per line on the fallback engine.
pub const BACKTRACK_LIMIT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// `regex`: linear time, no ReDoS.
    Linear,
    /// `fancy-regex` with a backtracking limit.
    Backtracking,
}

#[derive(Debug)]
enum Engine {
    Linear(regex::Regex),
    /// Rewritten for the linear engine (see [`rewrite`]); the original runs
    /// on the backtracking engine only for lines a look-around check
    /// rejects.
    Exact {
        exact: Exact,
        fallback: fancy_regex::Regex,
    },
    Backtracking(fancy_regex::Regex),
}

/// A compiled pattern with the names of its groups.
#[derive(Debug)]
pub struct Pattern {
    /// The pattern as the user wrote it (before tag expansion for fail2ban
    /// it is the expanded form; see `origin`).
    pub source: String,
    /// Why the fallback was needed (empty on the linear engine).
    pub needs: Vec<&'static str>,
    engine: Engine,
    names: Vec<(String, usize)>,
    /// The groups tejun interprets, resolved once: (group, index).
    known: Vec<(Group, usize)>,
    /// For a backtracking pattern: a linear superset used as a prefilter.
    relaxed: Option<String>,
    /// For a linear pattern ending in `(?P<g>.+)$`: captures one-line texts
    /// without walking the rest of the line (see [`tail`]).
    tail: Option<Tail>,
    /// For a linear or rewritten pattern: how its automaton sees bytes, so
    /// results can be remembered per shape of text (see [`crate::memo`]).
    /// Built on first capture: most patterns of a filter never match.
    shape: OnceLock<Option<Shape>>,
}

/// Linear patterns of one list in a single regex: one pass over a line
/// says which of them can match, so most lines skip every full match.
#[derive(Debug)]
pub struct Prefilter {
    search: SetSearch,
    /// Set index of each pattern (`None`: backtracking, always tried).
    slots: Vec<Option<usize>>,
    /// Whether every pattern is in the set (none is only ever backtracked).
    all_linear: bool,
}

/// How a [`Prefilter`] finds the patterns a text may match.
#[derive(Debug)]
enum SetSearch {
    /// Every pattern is anchored at the start of the text, so all their
    /// matches start at 0 and one leftmost-first search names the first
    /// pattern, in order, whose leading part ([`leading_part`]) matches;
    /// no pattern before it can match. It runs on the lazy DFA's fast
    /// loop, where an overlapping search steps byte by byte. Forward only:
    /// the start is known, so no reverse automaton is compiled.
    First(Box<hybrid::dfa::DFA>),
    /// Every pattern that matches anywhere (what `regex::RegexSet` does).
    All(meta::Regex),
}

/// The patterns a [`Prefilter`] found may match one text.
#[derive(Debug, Clone, Copy)]
pub enum Candidates<'s> {
    /// Those at or after the first set pattern that matched, and those not
    /// in the set: named by one number, not a flag per pattern written for
    /// every line.
    From {
        slots: &'s [Option<usize>],
        first: usize,
        /// No pattern before this index may match.
        skip: usize,
    },
    /// A flag per pattern.
    Set(&'s [bool]),
}

impl Candidates<'_> {
    /// Whether pattern `index` may match.
    pub fn contains(&self, index: usize) -> bool {
        match self {
            Candidates::From { slots, first, .. } => slots
                .get(index)
                .is_none_or(|slot| slot.is_none_or(|i| i >= *first)),
            Candidates::Set(flags) => flags.get(index).copied().unwrap_or(true),
        }
    }

    /// Patterns before this index cannot match: a caller need not even
    /// ask about them.
    pub fn skip(&self) -> usize {
        match self {
            Candidates::From { skip, .. } => *skip,
            Candidates::Set(_) => 0,
        }
    }
}

/// What one thread keeps to run a [`Prefilter`], so the per-line path
/// neither allocates nor shares the regex's cache pool with other threads.
#[derive(Debug, Default)]
pub struct PrefilterScratch {
    first: Option<hybrid::dfa::Cache>,
    leading: leading::Remembered,
    cache: Option<meta::Cache>,
    found: Option<PatternSet>,
    candidates: Vec<bool>,
}

impl Prefilter {
    pub fn new(patterns: &[Pattern]) -> Option<Prefilter> {
        let mut sources = Vec::new();
        let mut slots = Vec::new();
        for p in patterns {
            match &p.engine {
                Engine::Linear(re) => {
                    slots.push(Some(sources.len()));
                    sources.push(re.as_str().to_string());
                }
                Engine::Exact { .. } | Engine::Backtracking(_) => {
                    match p.relaxed.as_ref().filter(|r| regex::Regex::new(r).is_ok()) {
                        Some(r) => {
                            slots.push(Some(sources.len()));
                            sources.push(r.clone());
                        }
                        None => slots.push(None),
                    }
                }
            }
        }
        if sources.len() < 2 {
            return None;
        }
        let hirs: Vec<Hir> = sources
            .iter()
            .map(|source| regex_syntax::parse(source).ok())
            .collect::<Option<_>>()?;
        let anchored = hirs
            .iter()
            .all(|hir| hir.properties().look_set_prefix().contains(Look::Start));
        let nfa = thompson::Config::new()
            .nfa_size_limit(Some(64 << 20))
            .which_captures(WhichCaptures::None);
        let search = if anchored {
            let starts: Vec<Hir> = hirs.iter().map(leading_part).collect();
            let nfa = thompson::Compiler::new()
                .configure(nfa)
                .build_many_from_hir(&starts)
                .ok()?;
            let dfa = hybrid::dfa::DFA::builder()
                .configure(
                    hybrid::dfa::DFA::config()
                        .match_kind(MatchKind::LeftmostFirst)
                        .unicode_word_boundary(true)
                        .cache_capacity(2 << 20),
                )
                .build_from_nfa(nfa)
                .ok()?;
            SetSearch::First(Box::new(dfa))
        } else {
            let regex = meta::Builder::new()
                .configure(
                    meta::Config::new()
                        .match_kind(MatchKind::All)
                        .which_captures(WhichCaptures::None)
                        .nfa_size_limit(Some(64 << 20))
                        .hybrid_cache_capacity(2 << 20),
                )
                .build_many(&sources)
                .ok()?;
            SetSearch::All(regex)
        };
        let all_linear = slots.iter().all(Option::is_some);
        Some(Prefilter {
            search,
            slots,
            all_linear,
        })
    }

    /// Which patterns may match `hay` (a superset: callers try them in
    /// order and stop at the first that matches), or `None` when no
    /// pattern can. One pass over `hay` for all patterns.
    pub fn candidates<'s>(
        &'s self,
        hay: &str,
        scratch: &'s mut PrefilterScratch,
    ) -> Option<Candidates<'s>> {
        match &self.search {
            SetSearch::First(dfa) => {
                let cache = scratch.first.get_or_insert_with(|| dfa.create_cache());
                let first = match scratch.leading.first(dfa, cache, hay) {
                    Ok(found) => found,
                    // The lazy DFA gave up (a Unicode word boundary next to
                    // a non-ASCII byte): every pattern stays a candidate.
                    Err(()) => Some(0),
                };
                if first.is_none() && self.all_linear {
                    return None;
                }
                // Patterns before the first match cannot match. From it on,
                // each may: callers stop at the first that does, which is it
                // unless it is a superset its exact pattern narrows.
                let first = first.unwrap_or(usize::MAX);
                // With every pattern in the set, slot `i` is pattern `i`.
                let skip = if self.all_linear { first } else { 0 };
                Some(Candidates::From {
                    slots: &self.slots,
                    first,
                    skip,
                })
            }
            SetSearch::All(regex) => {
                let cache = scratch.cache.get_or_insert_with(|| regex.create_cache());
                let found = scratch
                    .found
                    .get_or_insert_with(|| PatternSet::new(regex.pattern_len()));
                found.clear();
                regex.which_overlapping_matches_with(cache, &Input::new(hay), found);
                if found.is_empty() && self.all_linear {
                    return None;
                }
                scratch.candidates.clear();
                scratch.candidates.extend(
                    self.slots.iter().map(|slot| {
                        slot.is_none_or(|i| found.contains(PatternID::new_unchecked(i)))
                    }),
                );
                Some(Candidates::Set(&scratch.candidates))
            }
        }
    }
}

/// Bytes of text a pattern's leading part must read at least (where the
/// pattern is that long): enough to tell fail2ban's messages apart.
const LEADING_LEN: usize = 12;

/// The first items of an anchored pattern, reading at least
/// [`LEADING_LEN`] bytes where the pattern allows. A text a pattern matches
/// starts with a match of its leading part, so a prefilter over leading
/// parts still never skips a pattern that matches; and its automaton stops
/// a few words into a line instead of at the line's end.
fn leading_part(hir: &Hir) -> Hir {
    let HirKind::Concat(items) = hir.kind() else {
        return hir.clone();
    };
    let mut len = 0;
    for (index, item) in items.iter().enumerate() {
        len += item.properties().minimum_len().unwrap_or(0);
        if len >= LEADING_LEN {
            return Hir::concat(items[..=index].to_vec());
        }
    }
    hir.clone()
}

/// The pattern does not compile on either engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The fallback engine gave up on this line (backtracking limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError;

/// Byte spans of the named groups of one match.
///
/// A handful of names at most, so an inline vector (no hashing, and no
/// allocation for the usual handful) beats a map on the per-line path.
#[derive(Debug, Clone, Default)]
pub struct Groups<'h> {
    pub whole: (usize, usize),
    map: SmallVec<[(Group, &'h str); 4]>,
}

impl<'h> Groups<'h> {
    pub fn get(&self, group: Group) -> Option<&'h str> {
        self.map.iter().find(|(k, _)| *k == group).map(|(_, v)| *v)
    }
    pub fn has(&self, group: Group) -> bool {
        self.map.iter().any(|(k, _)| *k == group)
    }
    pub fn iter(&self) -> impl Iterator<Item = (Group, &'h str)> + '_ {
        self.map.iter().copied()
    }
    /// Keeps the first value of a group (fail2ban's first-group-wins).
    fn insert_first(&mut self, key: Group, value: &'h str) {
        if !self.has(key) {
            self.map.push((key, value));
        }
    }
}

impl Pattern {
    /// Compiles a pattern written in Python `re` syntax (fail2ban and tejun
    /// rules share it, so one set of docs covers both).
    pub fn compile(python: &str, multi_line: bool) -> Result<Pattern, PatternError> {
        let translated = pyregex::translate(python);
        let rust = if multi_line {
            format!("(?m){}", translated.rust)
        } else {
            translated.rust
        };
        if translated.backtracking.is_empty() {
            match regex::RegexBuilder::new(&rust)
                .size_limit(64 << 20)
                .dfa_size_limit(512 << 10)
                .build()
            {
                Ok(re) => return Ok(Pattern::linear(python, re)),
                Err(err) => {
                    return Err(PatternError {
                        message: err.to_string(),
                    });
                }
            }
        }
        let fancy = fancy_regex::RegexBuilder::new(&rust)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|err| PatternError {
                message: format!("{} ({})", err, translated.backtracking.join(", ")),
            })?;
        let names: Vec<(String, usize)> = fancy
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect();
        // The prefilters take the relaxed form either way: it is smaller
        // than the rewrite (no copied continuations), so their DFA caches
        // stay small.
        let relaxed = pyregex::relax(&rust);
        let engine = match Exact::build(&rust, 64 << 20) {
            Ok(exact) => Engine::Exact {
                exact,
                fallback: fancy,
            },
            Err(_) => Engine::Backtracking(fancy),
        };
        Ok(Pattern {
            source: python.to_string(),
            needs: translated.backtracking,
            engine,
            known: known_names(&names),
            names,
            relaxed: Some(relaxed),
            tail: None,
            shape: OnceLock::new(),
        })
    }

    fn linear(python: &str, re: regex::Regex) -> Pattern {
        let names: Vec<(String, usize)> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect();
        Pattern {
            source: python.to_string(),
            needs: Vec::new(),
            tail: Tail::build(re.as_str()),
            shape: OnceLock::new(),
            engine: Engine::Linear(re),
            known: known_names(&names),
            names,
            relaxed: None,
        }
    }

    /// Where lines are matched. A rewritten pattern counts as linear: only
    /// a line failing one of its look-around checks (crafted input) goes to
    /// the backtracking engine, under its step limit.
    pub fn engine(&self) -> EngineKind {
        match self.engine {
            Engine::Linear(_) | Engine::Exact { .. } => EngineKind::Linear,
            Engine::Backtracking(_) => EngineKind::Backtracking,
        }
    }

    /// A linear-engine pattern (Rust syntax) matching at least every text
    /// this pattern matches: the pattern itself when linear, its relaxed
    /// form otherwise. `None` when no such pattern could be built.
    pub fn linear_superset(&self) -> Option<&str> {
        match &self.engine {
            Engine::Linear(re) => Some(re.as_str()),
            Engine::Exact { .. } | Engine::Backtracking(_) => self.relaxed.as_deref(),
        }
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.names.iter().any(|(n, _)| n == name)
    }

    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(n, _)| n.as_str())
    }

    /// Whether the pattern matches anywhere (cheapest question).
    pub fn is_match(&self, hay: &str) -> Result<bool, MatchError> {
        match &self.engine {
            Engine::Linear(re) => Ok(re.is_match(hay)),
            Engine::Exact { exact, fallback } => match exact.is_match(hay) {
                Some(found) => Ok(found),
                None => fallback.is_match(hay).map_err(|_| MatchError),
            },
            Engine::Backtracking(re) => re.is_match(hay).map_err(|_| MatchError),
        }
    }

    /// The first match and its named groups (groups that did not take part
    /// are absent; only the names tejun interprets are kept).
    pub fn captures<'h>(&self, hay: &'h str) -> Result<Option<Groups<'h>>, MatchError> {
        let one_line = memchr::memchr(b'\n', hay.as_bytes()).is_none();
        self.captures_in(&mut Memo::default(), None, hay, one_line)
    }

    /// [`Pattern::captures`], remembering results in `memo` by the shape of
    /// the text (see [`crate::memo`]): the path of a thread matching many
    /// lines. `one_line` says `hay` is known to hold no newline (callers
    /// that split lines know it without searching every text again); a
    /// text that may hold one is matched without the shortened tail.
    pub fn captures_with<'h>(
        &self,
        memo: &mut Memo,
        hay: &'h str,
        one_line: bool,
    ) -> Result<Option<Groups<'h>>, MatchError> {
        debug_assert!(!one_line || !hay.contains('\n'));
        let shape = self
            .shape
            .get_or_init(|| self.linear_source().and_then(Shape::of));
        self.captures_in(memo, shape.as_ref(), hay, one_line)
    }

    /// The regex the linear engine runs (`None` on the backtracker).
    pub(crate) fn linear_source(&self) -> Option<&str> {
        match &self.engine {
            Engine::Linear(re) => Some(re.as_str()),
            Engine::Exact { exact, .. } => Some(exact.as_str()),
            Engine::Backtracking(_) => None,
        }
    }

    fn captures_in<'h>(
        &self,
        memo: &mut Memo,
        shape: Option<&Shape>,
        hay: &'h str,
        one_line: bool,
    ) -> Result<Option<Groups<'h>>, MatchError> {
        match &self.engine {
            Engine::Linear(re) => {
                // A one-line text of an anchored pattern with a tail: keyed
                // by the walk of the shortened pattern, which stops a few
                // bytes into the tail.
                if let Some(tail) = &self.tail
                    && let Some(walk) = &tail.walk
                    && one_line
                    && let Some(spans) = memo.spans_of_anchored(Some(walk), hay, || {
                        tail.captures(hay).as_ref().map(spans_of_captures)
                    })
                {
                    return Ok(spans.map(|spans| {
                        let whole = tail.span(spans, 0, hay.len()).unwrap_or((0, 0));
                        self.named_groups(hay, whole, |index| tail.span(spans, index, hay.len()))
                    }));
                }
                let spans = memo.spans(shape, hay, || self.linear_spans(re, hay, one_line));
                Ok(spans.map(|spans| self.groups_of(hay, spans)))
            }
            Engine::Exact { exact, fallback } => {
                let Some(spans) = memo.spans(shape, hay, || exact.spans(hay)) else {
                    return Ok(None);
                };
                match exact.verdict(hay, spans) {
                    Verdict::NoMatch => Ok(None),
                    Verdict::Match { whole, groups } => {
                        Ok(Some(self.named_groups(hay, whole, |index| {
                            groups
                                .iter()
                                .find(|(i, _)| *i == index)
                                .map(|(_, span)| *span)
                        })))
                    }
                    Verdict::Undecided => self.backtracking_captures(fallback, hay),
                }
            }
            Engine::Backtracking(re) => self.backtracking_captures(re, hay),
        }
    }

    /// The group spans of a linear pattern's match; with a tail, from its
    /// shortened pattern when `hay` holds no newline.
    fn linear_spans(&self, re: &regex::Regex, hay: &str, one_line: bool) -> Option<Box<[Slot]>> {
        let tail = self.tail.as_ref().filter(|_| one_line);
        match tail {
            Some(tail) => {
                let spans = spans_of_captures(&tail.captures(hay)?);
                Some(
                    (0..spans.len())
                        .map(|index| tail.span(&spans, index, hay.len()))
                        .collect(),
                )
            }
            None => re.captures(hay).as_ref().map(spans_of),
        }
    }

    fn backtracking_captures<'h>(
        &self,
        re: &fancy_regex::Regex,
        hay: &'h str,
    ) -> Result<Option<Groups<'h>>, MatchError> {
        let Some(caps) = re.captures(hay).map_err(|_| MatchError)? else {
            return Ok(None);
        };
        let spans: Vec<Slot> = (0..caps.len())
            .map(|index| caps.get(index).map(|m| (m.start(), m.end())))
            .collect();
        Ok(Some(self.groups_of(hay, &spans)))
    }

    /// The groups tejun interprets, from the spans of every group.
    fn groups_of<'h>(&self, hay: &'h str, spans: &[Slot]) -> Groups<'h> {
        let whole = spans.first().copied().flatten().unwrap_or((0, 0));
        self.named_groups(hay, whole, |index| spans.get(index).copied().flatten())
    }

    /// The groups tejun interprets, from the span of each group by its
    /// index (names were resolved when the pattern compiled).
    fn named_groups<'h>(
        &self,
        hay: &'h str,
        whole: (usize, usize),
        span_of: impl Fn(usize) -> Option<(usize, usize)>,
    ) -> Groups<'h> {
        let mut groups = Groups {
            whole,
            ..Groups::default()
        };
        for (key, index) in &self.known {
            if let Some((start, end)) = span_of(*index) {
                groups.insert_first(*key, &hay[start..end]);
            }
        }
        groups
    }

    /// [`Pattern::captures`] on the original pattern alone, bypassing the
    /// linear rewrite and the shortened tail: the reference both are tested
    /// against.
    #[doc(hidden)]
    pub fn captures_reference<'h>(&self, hay: &'h str) -> Result<Option<Groups<'h>>, MatchError> {
        match &self.engine {
            Engine::Exact { fallback, .. } => self.backtracking_captures(fallback, hay),
            Engine::Linear(re) => Ok(re
                .captures(hay)
                .map(|caps| self.groups_of(hay, &spans_of(&caps)))),
            _ => self.captures(hay),
        }
    }

    /// Whether the pattern runs rewritten on the linear engine.
    #[doc(hidden)]
    pub fn is_rewritten(&self) -> bool {
        matches!(self.engine, Engine::Exact { .. })
    }

    /// Whether one-line texts are captured with a shortened tail.
    #[doc(hidden)]
    pub fn has_tail(&self) -> bool {
        self.tail.is_some()
    }
}

fn known_names(names: &[(String, usize)]) -> Vec<(Group, usize)> {
    names
        .iter()
        .filter_map(|(name, index)| Some((Group::of_name(name)?, *index)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(patterns: &[&str], hay: &str) -> Option<Vec<bool>> {
        let patterns: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::compile(p, false).unwrap())
            .collect();
        let prefilter = Prefilter::new(&patterns).unwrap();
        let mut scratch = PrefilterScratch::default();
        prefilter
            .candidates(hay, &mut scratch)
            .map(|c| (0..patterns.len()).map(|i| c.contains(i)).collect())
    }

    /// Whether each pattern, compiled on its own, matches `hay`.
    fn matching(patterns: &[&str], hay: &str) -> Vec<bool> {
        patterns
            .iter()
            .map(|p| {
                let pattern = Pattern::compile(p, false).unwrap();
                pattern.captures(hay).unwrap().is_some()
            })
            .collect()
    }

    #[test]
    fn anchored_patterns_are_candidates_from_the_first_that_matches() {
        let patterns = [r"^Failed \S+ for", r"^Accepted \S+", r"^Failed password"];
        assert_eq!(
            candidates(&patterns, "Failed password for root"),
            Some(vec![true, true, true])
        );
        assert_eq!(
            candidates(&patterns, "Accepted publickey"),
            Some(vec![false, true, true])
        );
        assert_eq!(candidates(&patterns, "session opened"), None);
    }

    /// Only the leading parts are searched: a pattern whose start matches
    /// and whose rest does not stays a candidate with those after it, and a
    /// text no leading part matches is skipped.
    #[test]
    fn patterns_are_told_apart_by_their_leading_parts() {
        let patterns = [
            r"^Failed password for (?P<user>\S+) from (?P<host>\S+) port \d+$",
            r"^Failed password for (?P<host>\S+)$",
            r"^Accepted publickey for (?P<user>\S+) from (?P<host>\S+)",
        ];
        let hay = "Failed password for 10.0.0.1";
        assert_eq!(candidates(&patterns, hay), Some(vec![true, true, true]));
        assert_eq!(matching(&patterns[..2], hay), [false, true]);
        assert_eq!(
            candidates(&patterns, "Accepted publickey for root from x"),
            Some(vec![false, false, true])
        );
        assert_eq!(candidates(&patterns, "Accepted password for root"), None);
    }

    /// The first pattern's superset matches but its look-ahead refuses the
    /// text: the patterns after it must still be tried.
    #[test]
    fn a_superset_that_matches_first_leaves_later_patterns_candidates() {
        let patterns = [r"^user (?=root)\w+", r"^user \w+ from"];
        let hay = "user admin from 10.0.0.1";
        assert_eq!(candidates(&patterns, hay), Some(vec![true, true]));
        assert_eq!(matching(&patterns, hay), [false, true]);
    }

    #[test]
    fn an_unanchored_pattern_makes_the_set_report_every_match() {
        let patterns = [r"^Failed", r"from \d+"];
        assert_eq!(
            candidates(&patterns, "x from 10 Failed"),
            Some(vec![false, true])
        );
        assert_eq!(
            candidates(&patterns, "Failed from 10"),
            Some(vec![true, true])
        );
        // A later pattern matching earlier in the text must not hide an
        // earlier one (what a leftmost-first search would do here).
        let patterns = [r"^x", r"Failed", r"from \d+"];
        assert_eq!(
            candidates(&patterns, "from 10 Failed"),
            Some(vec![false, true, true])
        );
    }
}
