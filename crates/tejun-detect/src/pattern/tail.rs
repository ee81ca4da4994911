//! A last group that takes the rest of the line, without walking it.
//!
//! Most fail2ban `prefregex`es end in `<F-CONTENT>.+</F-CONTENT>$`: a prefix
//! worth parsing, then the rest of the line handed to the failregexes.
//! Capturing that costs the backtracker one step per remaining character,
//! and it dominated a scan. On a text without a newline, `(?P<g>.+)$`
//! matches exactly when at least one character is left, and then spans all
//! of them; so the pattern with the group shrunk to one character (`.`)
//! picks the same prefix, in the same priority order, and the group's end is
//! the end of the text. Texts holding a newline (multi-line buffers) keep
//! the full pattern.
//!
//! The shortened pattern is compiled from its syntax tree, never printed
//! back to text: regex-syntax prints `(?:x+)?` as `x+?`, a lazy `x+`.

use regex_automata::meta;
use regex_automata::util::captures::Captures;
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Look, Repetition};

use crate::memo::{Automaton, Slot};

/// The shortened pattern and the capture group of the tail.
#[derive(Debug)]
pub struct Tail {
    regex: meta::Regex,
    /// Index of the tail group (the same in the full pattern).
    pub group: usize,
    /// The shortened pattern's automaton when it is anchored at the start:
    /// it stops a few bytes into the tail, so one-line texts are keyed by
    /// the walk of their prefix ([`crate::memo::Memo::spans_of_anchored`]).
    pub walk: Option<Automaton>,
}

impl Tail {
    /// `None` unless `pattern` is a concatenation ending in
    /// `(?P<name>.+)$` (greedy, `.` not matching a newline).
    pub fn build(pattern: &str) -> Option<Tail> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let [prefix @ .., group, end] = parts.as_slice() else {
            return None;
        };
        if !matches!(end.kind(), HirKind::Look(Look::End)) {
            return None;
        }
        let HirKind::Capture(capture @ Capture { name: Some(_), .. }) = group.kind() else {
            return None;
        };
        let HirKind::Repetition(Repetition {
            min: 1,
            max: None,
            greedy: true,
            sub,
        }) = capture.sub.kind()
        else {
            return None;
        };
        let HirKind::Class(class) = sub.kind() else {
            return None;
        };
        if !is_any_but_newline(class) {
            return None;
        }
        let mut shortened = prefix.to_vec();
        shortened.push(Hir::capture(Capture {
            index: capture.index,
            name: capture.name.clone(),
            sub: sub.clone(),
        }));
        let shortened = Hir::concat(shortened);
        let regex = meta::Regex::builder()
            .configure(
                meta::Config::new()
                    .nfa_size_limit(Some(64 << 20))
                    .hybrid_cache_capacity(512 << 10),
            )
            .build_from_hir(&shortened)
            .ok()?;
        let anchored = shortened
            .properties()
            .look_set_prefix()
            .contains(Look::Start);
        Some(Tail {
            regex,
            group: capture.index as usize,
            walk: anchored.then(|| Automaton::of_hir(&shortened)).flatten(),
        })
    }

    /// The shortened pattern's captures on `hay`, which must hold no
    /// newline; the tail group then runs to the end of `hay`.
    pub fn captures(&self, hay: &str) -> Option<Captures> {
        let mut caps = self.regex.create_captures();
        self.regex.captures(hay, &mut caps);
        caps.is_match().then_some(caps)
    }

    /// Group `index` of the full pattern on a one-line text of `len`
    /// bytes, from the shortened pattern's `spans`: the match and the tail
    /// group run to the end of the text.
    pub fn span(&self, spans: &[Slot], index: usize, len: usize) -> Slot {
        let (start, end) = spans.get(index).copied().flatten()?;
        let end = if index == 0 || index == self.group {
            len
        } else {
            end
        };
        Some((start, end))
    }
}

/// Whether the class is `.` without the `s` flag: every character but `\n`.
fn is_any_but_newline(class: &Class) -> bool {
    match class {
        Class::Unicode(c) => {
            let ranges = c.ranges();
            ranges.len() == 2
                && (ranges[0].start(), ranges[0].end()) == ('\0', '\x09')
                && (ranges[1].start(), ranges[1].end()) == ('\x0B', '\u{10FFFF}')
        }
        Class::Bytes(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trailing_rest_of_line_group_is_shortened() {
        assert!(Tail::build(r"^(?P<id>\S+) (?P<content>.+)$").is_some());
        // Not the last thing, lazy, may be empty, `(?s)`, unnamed, no `$`.
        assert!(Tail::build(r"^(?P<content>.+) x$").is_none());
        assert!(Tail::build(r"^(?P<content>.+?)$").is_none());
        assert!(Tail::build(r"^(?P<content>.*)$").is_none());
        assert!(Tail::build(r"^(?s:(?P<content>.+))$").is_none());
        assert!(Tail::build(r"^(.+)$").is_none());
        assert!(Tail::build(r"^(?P<content>.+)").is_none());
        assert!(Tail::build(r"(?m)^(?P<content>.+)$").is_none());
    }

    #[test]
    fn the_shortened_pattern_picks_the_same_prefix() {
        let source = r"^(?P<a>x*)(?:y|(?P<b>xy))?(?:z+)?(?P<content>.+)$";
        let full = regex::Regex::new(source).unwrap();
        let tail = Tail::build(source).unwrap();
        for text in [
            "xxy z", "x", "y", "xy", "xyz", "", "zz", "xxxxyy", "a", "zzz",
        ] {
            let want = full.captures(text).map(|c| {
                let g = c.get(tail.group).unwrap();
                (
                    c.name("a").map(|m| m.range()),
                    c.name("b").map(|m| m.range()),
                    g.start(),
                )
            });
            let got = tail.captures(text).map(|c| {
                let g = c.get_group(tail.group).unwrap();
                (
                    c.get_group_by_name("a").map(|s| s.range()),
                    c.get_group_by_name("b").map(|s| s.range()),
                    g.start,
                )
            });
            assert_eq!(got, want, "{text:?}");
        }
    }
}
