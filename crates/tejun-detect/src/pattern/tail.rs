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

use regex_syntax::hir::{Capture, Class, Hir, HirKind, Look, Repetition};

/// The shortened pattern and the capture slot of the tail group.
#[derive(Debug)]
pub struct Tail {
    pub regex: regex::Regex,
    pub slot: usize,
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
        let regex = regex::RegexBuilder::new(&Hir::concat(shortened).to_string())
            .size_limit(64 << 20)
            .dfa_size_limit(512 << 10)
            .build()
            .ok()?;
        Some(Tail {
            regex,
            slot: capture.index as usize,
        })
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
        let full = regex::Regex::new(r"^(?P<a>x*)(?:y|(?P<b>xy))?(?P<content>.+)$").unwrap();
        let tail = Tail::build(full.as_str()).unwrap();
        for text in ["xxy z", "x", "y", "xy", "xyz", "", "zz", "xxxxyy"] {
            let want = full.captures(text).map(|c| {
                let g = c.get(tail.slot).unwrap();
                (
                    c.name("a").map(|m| m.range()),
                    c.name("b").map(|m| m.range()),
                    g.start(),
                )
            });
            let got = tail.regex.captures(text).map(|c| {
                let g = c.get(tail.slot).unwrap();
                (
                    c.name("a").map(|m| m.range()),
                    c.name("b").map(|m| m.range()),
                    g.start(),
                )
            });
            assert_eq!(got, want, "{text:?}");
        }
    }
}
