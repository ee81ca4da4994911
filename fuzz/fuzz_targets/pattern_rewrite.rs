#![no_main]
//! The linear rewrite of conditionals and look-arounds never panics and
//! never disagrees with the backtracking engine, and a shortened
//! `(?P<content>.+)$` tail never disagrees with the full pattern, nor does
//! a result remembered by shape (`tejun_detect::memo`).
//!
//! The first bytes pick a pattern from tokens of the constructs the rewrite
//! handles (so most inputs compile); the rest is the line. Raw bytes are
//! also compiled as a pattern of their own, for the parser's sake.

use libfuzzer_sys::fuzz_target;
use tejun_detect::Pattern;
use tejun_detect::memo::Memo;

const TOKENS: &[&str] = &[
    "a", "b", " ", " from ", ": ", "x", "é", r"\S+", r"\d+", "[^:]+", ".*?", ".*", r"\s*",
    "(?P<g>", "(?P<h>", "(?P<user>", "(?P<host>", "(?:", ")", ")?", ")*", "|", "(?(g)", "(?(h)",
    "(?!x)", "(?! from )", "(?=a)", "(?<!b)", "(?<=a)", "(?:(?! from ).)*", "(?:(?! from ).)*?",
    "^", "$", "?", "+", "(?P<content>.+)$",
];

/// Empty captures are left out: where a group can match the empty string
/// inside an optional or repeated group, fancy-regex leaves it unset while
/// Python (fail2ban's engine) and the `regex` crate set it to "".
fn describe(groups: Option<tejun_detect::pattern::Groups<'_>>) -> Option<String> {
    groups.map(|g| {
        let mut pairs: Vec<String> = g
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        pairs.sort();
        format!("{:?} {}", g.whole, pairs.join(" "))
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0xff).unwrap_or(data.len().min(12));
    let (picks, line) = data.split_at(split);
    let line = String::from_utf8_lossy(line);

    if let Ok(pattern) = Pattern::compile(&String::from_utf8_lossy(picks), false) {
        let _ = pattern.captures(&line);
    }

    let source: String = picks
        .iter()
        .map(|b| TOKENS[*b as usize % TOKENS.len()])
        .collect();
    // A repeated group: engines disagree on captures of empty iterations
    // (Python keeps the last, empty one), rewrite or not. Not in the filters.
    let untempered = source.replace("(?:(?! from ).)*", "t");
    if untempered.contains(")*") || untempered.contains(")+") {
        return;
    }
    let Ok(pattern) = Pattern::compile(&source, false) else {
        return;
    };
    if !pattern.is_rewritten() && !pattern.has_tail() {
        return;
    }
    let Ok(reference) = pattern.captures_reference(&line) else {
        return; // the backtracking engine gave up: nothing to compare with
    };
    let fast = pattern.captures(&line).ok().flatten();
    assert_eq!(
        describe(fast),
        describe(reference),
        "pattern {source:?} on {line:?}"
    );

    // The line with other digits (usually the same shape) after the line.
    let shifted: String = line
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from(b'0' + (c as u8 - b'0' + 1) % 10),
            _ => c,
        })
        .collect();
    let mut memo = Memo::default();
    let _ = pattern.captures_with(&mut memo, &line, !line.contains('\n'));
    if let Ok(reference) = pattern.captures_reference(&shifted) {
        let remembered = pattern.captures_with(&mut memo, &shifted, !shifted.contains('\n')).ok().flatten();
        assert_eq!(
            describe(remembered),
            describe(reference),
            "pattern {source:?} on {shifted:?} after {line:?}"
        );
    }
});
