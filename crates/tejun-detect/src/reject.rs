//! Exact fast reject: one lazy-DFA pass that proves a line cannot hit.
//!
//! A fail2ban filter with a `prefregex` first captures the prefregex groups
//! (connection id, content) on every line it matches, then asks whether a
//! failregex matches the content. On a busy sshd log nearly every line
//! passes the prefregex and nearly none hits a failregex, so the capturing
//! match was paid for nothing. This module builds, per rule, one
//! multi-pattern regex that matches every line on which some failregex
//! could match its content; a line it does not match is skipped before any
//! capture. The same pass says which failregexes may match, so a line that
//! goes on is not searched again to pick candidates (trying a candidate
//! that then fails changes nothing: the first failregex that matches wins
//! either way).
//!
//! Why it is exact (a true superset): a failregex matches a substring of
//! the content, and the content is a substring of the (date-cut) line. The
//! only parts of a pattern that depend on what surrounds the matched text
//! are zero-width assertions (`^`, `$`, `\b`, ...): `^` of a failregex
//! means the start of the *content*, which is not the start of the line.
//! Removing every assertion only widens what a pattern accepts, and the
//! widened pattern then matches the same text wherever it sits in the line.
//! Backtracking failregexes contribute their linear superset
//! ([`Pattern::linear_superset`]), which the per-line prefilter already
//! relies on.
//!
//! A skipped line must also leave fail2ban's state untouched, so rules are
//! only eligible when skipping cannot change anything but "no hit": single
//! line rules (`maxlines` buffers every line) whose prefregex and
//! ignoreregexes run on the linear engine (a backtracking one can count a
//! match error on a line that hits nothing). Connection-id state changes
//! only when a failregex matches (`<F-NOFAIL>` / `<F-MLFFORGET>` lines are
//! failregexes too, so they are never skipped), and the date is read before
//! this check, so continuation lines keep their date.

use regex_automata::meta;
use regex_automata::{Input, MatchKind, PatternID, PatternSet};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

use crate::model::Rule;
use crate::pattern::{EngineKind, Pattern};

/// The widened failregexes of one rule, searched together in one pass.
#[derive(Debug)]
pub struct FastReject {
    /// Pattern `i` is the widened failregex `i` of the rule.
    regex: meta::Regex,
}

/// Per-thread search state of a [`FastReject`] (kept by the matcher so the
/// hot path never touches the regex's shared cache pool).
#[derive(Debug, Clone)]
pub struct RejectCache {
    cache: meta::Cache,
    found: PatternSet,
}

impl FastReject {
    /// The reject for `rule`, or `None` when the rule is not eligible (see
    /// the module docs) or a pattern cannot be widened.
    pub fn for_rule(rule: &Rule) -> Option<FastReject> {
        let prefregex = rule.prefregex.as_ref()?;
        let linear = |p: &Pattern| p.engine() == EngineKind::Linear;
        if rule.maxlines > 1
            || !linear(prefregex)
            || !rule.ignoreregex.iter().all(linear)
            || rule.failregex.is_empty()
        {
            return None;
        }
        FastReject::for_patterns(&rule.failregex)
    }

    /// Widened forms of `patterns`, each matching every text in which its
    /// pattern matches some substring; `None` when a pattern has no linear
    /// form or its widened form matches the empty string (it would pass
    /// every line: nothing to reject).
    pub fn for_patterns(patterns: &[Pattern]) -> Option<FastReject> {
        let mut widened = Vec::with_capacity(patterns.len());
        for p in patterns {
            let hir = regex_syntax::Parser::new()
                .parse(p.linear_superset()?)
                .ok()?;
            let hir = without_assertions(hir);
            if hir.properties().minimum_len() == Some(0) {
                return None;
            }
            widened.push(hir);
        }
        let regex = meta::Regex::builder()
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::All)
                    .nfa_size_limit(Some(64 << 20))
                    .hybrid_cache_capacity(2 << 20),
            )
            .build_many_from_hir(&widened)
            .ok()?;
        Some(FastReject { regex })
    }

    pub fn cache(&self) -> RejectCache {
        RejectCache {
            cache: self.regex.create_cache(),
            found: PatternSet::new(self.regex.pattern_len()),
        }
    }

    /// Which failregexes may match somewhere in `text` (`out[i]` for
    /// failregex `i`; every one that can match is marked). Returns `false`,
    /// with `out` all unmarked, when none can: the line cannot hit.
    pub fn candidates_into(
        &self,
        cache: &mut RejectCache,
        text: &str,
        out: &mut Vec<bool>,
    ) -> bool {
        cache.found.clear();
        self.regex.which_overlapping_matches_with(
            &mut cache.cache,
            &Input::new(text),
            &mut cache.found,
        );
        out.clear();
        out.extend(
            (0..self.regex.pattern_len())
                .map(|i| PatternID::new(i).is_ok_and(|id| cache.found.contains(id))),
        );
        !cache.found.is_empty()
    }
}

/// `hir` with every zero-width assertion replaced by the empty pattern and
/// capture groups unwrapped (their names would clash in the alternation).
fn without_assertions(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Capture(Capture { sub, .. }) => without_assertions(*sub),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(without_assertions(*rep.sub)),
            ..rep
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(without_assertions).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(without_assertions).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(patterns: &[&str]) -> FastReject {
        let compiled: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::compile(p, false).expect("compiles"))
            .collect();
        FastReject::for_patterns(&compiled).expect("eligible")
    }

    fn may_hit(r: &FastReject, text: &str) -> bool {
        r.candidates_into(&mut r.cache(), text, &mut Vec::new())
    }

    #[test]
    fn candidates_name_each_pattern_that_may_match() {
        let r = reject(&[r"^a(?P<host>\d)$", r"^b\d", r"c"]);
        let mut out = Vec::new();
        assert!(r.candidates_into(&mut r.cache(), "x a1 c", &mut out));
        assert_eq!(out, [true, false, true]);
        assert!(!r.candidates_into(&mut r.cache(), "nothing", &mut out));
        assert_eq!(out, [false, false, false]);
    }

    #[test]
    fn content_anchors_do_not_tie_the_pattern_to_the_line_start() {
        let r = reject(&[
            r"^Failed \S+ for (?P<user>\S+) from (?P<host>\S+)$",
            r"^Invalid user\b",
        ]);
        // The content starts after the syslog prefix, not at column 0.
        assert!(may_hit(
            &r,
            "host sshd[1]: Failed password for root from 1.2.3.4"
        ));
        assert!(may_hit(&r, "host sshd[1]: Invalid user x"));
        assert!(!may_hit(
            &r,
            "host CRON[2]: pam_unix(cron:session): session opened"
        ));
    }

    #[test]
    fn word_boundaries_at_the_content_edge_are_dropped_too() {
        // `\b` holds at the start of the content "user" but not inside
        // "xuser" of the whole line: the widened pattern must still match.
        let r = reject(&[r"\buser=(?P<host>\S+)"]);
        assert!(may_hit(&r, "xuser=1.2.3.4"));
    }

    #[test]
    fn a_pattern_that_matches_everything_is_not_eligible() {
        let compiled = vec![
            Pattern::compile(r"^y$", false).expect("compiles"),
            Pattern::compile(r"^(?:x)?$", false).expect("compiles"),
        ];
        assert!(FastReject::for_patterns(&compiled).is_none());
    }
}
