//! The linear rewrite of conditionals and look-arounds agrees with the
//! backtracking engine on every fail2ban pattern that needs them, and the
//! shortened `(?P<content>.+)$` tail agrees with the full pattern.
//!
//! Every failregex of every Debian filter (in each `mode`) that was
//! rewritten runs over every line of fail2ban's test logs, each line's
//! suffixes after `: ` (what a prefregex hands over as content) and crafted
//! variants (a second ` from ADDR` injected into user names, the attack
//! fail2ban's look-aheads exist for). Both engines must give the same match
//! and the same groups.
//!
//! Needs the Debian package: `apt-get install -y fail2ban`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use proptest::prelude::*;
use tejun_detect::memo::Memo;
use tejun_detect::{Pattern, RuleSet};

const FILTER_DIR: &str = "/etc/fail2ban/filter.d";
const LOG_DIR: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

/// Every distinct prefregex and failregex of the Debian filters, in each
/// `mode`, that `keep` selects.
fn debian_patterns(keep: fn(&Pattern) -> bool) -> Vec<(String, Pattern)> {
    let mut out = Vec::new();
    let mut filters: Vec<_> = std::fs::read_dir(FILTER_DIR)
        .expect("fail2ban filters (apt-get install -y fail2ban)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    filters.sort();
    for filter in filters {
        for mode in ["normal", "ddos", "extra", "aggressive"] {
            let options = HashMap::from([("mode".to_string(), mode.to_string())]);
            let Ok(set) = RuleSet::from_fail2ban_with_options(&filter, &options) else {
                continue;
            };
            for rule in set.rules {
                let name = format!("{} [mode={mode}]", filter.display());
                let patterns = rule.prefregex.into_iter().chain(rule.failregex);
                for pattern in patterns.filter(keep) {
                    if !out
                        .iter()
                        .any(|(_, p): &(String, Pattern)| p.source == pattern.source)
                    {
                        out.push((name.clone(), pattern));
                    }
                }
            }
        }
    }
    out
}

fn inputs() -> Vec<String> {
    let mut lines = Vec::new();
    let mut files: Vec<_> = walk(Path::new(LOG_DIR));
    files.sort();
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            if line.starts_with('#') || line.len() > 4096 {
                continue;
            }
            lines.push(line.to_string());
            for (at, _) in line.match_indices(": ") {
                lines.push(line[at + 2..].to_string());
            }
        }
    }
    let crafted: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(" from "))
        .flat_map(|l| {
            [
                l.replacen(" from ", " from 192.0.2.77 from ", 1),
                l.replacen(" from ", " from  from ", 1),
                l.replace(" port ", " from 198.51.100.9 port "),
                format!("{l} from 203.0.113.5"),
                format!("{l}: from "),
            ]
        })
        .collect();
    lines.extend(crafted);
    lines.sort();
    lines.dedup();
    lines
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn describe(groups: Option<tejun_detect::pattern::Groups<'_>>) -> Option<String> {
    groups.map(|g| {
        let mut pairs: Vec<String> = g.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.sort();
        format!("{:?} {}", g.whole, pairs.join(" "))
    })
}

#[test]
fn rewritten_patterns_agree_with_the_backtracking_engine() {
    let patterns = debian_patterns(Pattern::is_rewritten);
    // sshd's `^Failed …` and `Failed publickey …` at least.
    assert!(
        patterns.iter().filter(|(f, _)| f.contains("sshd")).count() >= 2,
        "expected sshd's conditional patterns to be rewritten, got {:?}",
        patterns.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    let matched = assert_same_as_reference(&patterns);
    eprintln!(
        "{} rewritten patterns: identical ({matched} matches)",
        patterns.len()
    );
}

#[test]
fn shortened_tails_agree_with_the_full_pattern() {
    let patterns = debian_patterns(Pattern::has_tail);
    // Most prefregexes end in `<F-CONTENT>.+</F-CONTENT>$`.
    assert!(
        patterns.len() >= 10,
        "expected prefregexes with a tail, got {}",
        patterns.len()
    );
    let matched = assert_same_as_reference(&patterns);
    eprintln!(
        "{} tail patterns: identical ({matched} matches)",
        patterns.len()
    );
}

/// Runs `patterns` over [`inputs`] on their fast path and on the reference
/// path; returns how many lines matched.
fn assert_same_as_reference(patterns: &[(String, Pattern)]) -> usize {
    let lines = inputs();
    assert!(lines.len() > 5_000, "too few test lines: {}", lines.len());
    let mut matched = 0;
    let mut disagreements = Vec::new();
    for (filter, pattern) in patterns {
        // One memo over all lines, as a scan thread has: lines of a shape
        // seen before take the remembered result.
        let mut memo = Memo::default();
        for line in &lines {
            let fast = pattern.captures(line).map(describe);
            let remembered = pattern
                .captures_with(&mut memo, line, !line.contains('\n'))
                .map(describe);
            let reference = pattern.captures_reference(line).map(describe);
            if let Ok(Some(_)) = &reference {
                matched += 1;
            }
            if (fast != reference || remembered != reference) && disagreements.len() < 20 {
                disagreements.push(format!(
                    "{filter}\n  pattern: {}\n  line: {line:?}\n  fast:       {fast:?}\n  remembered: {remembered:?}\n  reference:  {reference:?}",
                    pattern.source
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(
        matched > 100,
        "the inputs should exercise the patterns: {matched} matches"
    );
    matched
}

/// Hand-written patterns using every construct the rewrite handles: a
/// conditional on an optional and on an alternated group, literal
/// look-arounds and tempered dots. Generated lines mix the tokens those
/// constructs test for with multi-byte text, so checks land next to
/// character boundaries.
const PATTERNS: &[&str] = &[
    // fail2ban sshd's shape: a conditional on an optional group.
    r"^Failed (?:(?P<cond>publickey)|\S+) for (?P<cond_inv>invalid user )?(?P<user>(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from (?P<host>\S+)(?: port \d+)?(?(cond)|\s*)$",
    // A tempered dot before the host, as in sshd's "Invalid user".
    r"Invalid user (?P<user>(?:(?! from ).)*) from (?P<host>\S+)",
    // Look-ahead and look-behind of literals.
    r"(?<!no )auth(?!ority) failure;.* rhost=(?P<host>\S+)",
    // A conditional on a group in an alternation.
    r"(?:(?P<a>user=)|name=)(?P<user>\S+)(?(a) ok| no)",
];

/// `sources` compiled once for all proptest cases (compiling per case
/// dominated the test's time).
fn compiled(sources: &'static [&'static str]) -> &'static [Pattern] {
    static CACHE: Mutex<Vec<(usize, &'static [Pattern])>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    let key = sources.as_ptr() as usize;
    if let Some((_, patterns)) = cache.iter().find(|(k, _)| *k == key) {
        return patterns;
    }
    let patterns: Vec<Pattern> = sources
        .iter()
        .map(|s| Pattern::compile(s, false).unwrap())
        .collect();
    let patterns: &'static [Pattern] = Vec::leak(patterns);
    cache.push((key, patterns));
    patterns
}

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Failed ",
        "password ",
        "publickey ",
        "for ",
        "invalid user ",
        " from ",
        "from ",
        "192.0.2.7",
        "2001:db8::1",
        " port ",
        "22",
        ": ",
        "ユーザー",
        "é",
        " ",
        "x",
        "Invalid user ",
        "no ",
        "auth",
        "ority",
        " failure;",
        " rhost=",
        "user=",
        "name=",
        " ok",
        " no",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rewrite_matches_the_backtracking_engine(tokens in prop::collection::vec(token(), 0..14)) {
        let line: String = tokens.concat();
        for (source, pattern) in PATTERNS.iter().zip(compiled(PATTERNS)) {
            prop_assert!(pattern.is_rewritten(), "{source} should run rewritten");
            let fast = pattern.captures(&line).map(describe);
            let reference = pattern.captures_reference(&line).map(describe);
            prop_assert_eq!(fast, reference, "pattern {} on {:?}", source, line);
        }
    }
}

/// Linear patterns for the memo: a tail, digits in counted repetitions, and
/// Unicode word boundaries (remembered on ASCII lines only).
const LINEAR_PATTERNS: &[&str] = &[
    r"^(?P<pre>\S+ \d+)?(?: port (?P<port>\d{1,3}))?(?P<content>.+)$",
    r"from (?P<host>\d+\.\d+\.\d+\.\d{1,2}|[0-9a-f:]+)\b",
    r"\bx\w*\b(?P<rest>.*)",
];

/// The line with every ASCII digit shifted by `by` (mod 10): a text of the
/// same shape for most patterns, since digits usually share a byte class.
fn shift_digits(line: &str, by: u8) -> String {
    line.chars()
        .map(|c| match c {
            '0'..='9' => char::from(b'0' + (c as u8 - b'0' + by) % 10),
            _ => c,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// A result remembered for one text is only reused where the search
    /// would have found the same: on a line that differs in its digits.
    #[test]
    fn remembered_results_match_a_fresh_search(
        tokens in prop::collection::vec(token(), 0..14),
        other in prop::collection::vec(token(), 0..14),
        by in 1u8..10,
    ) {
        let first: String = tokens.concat();
        let other: String = other.concat();
        let second = shift_digits(&first, by);
        let patterns = compiled(PATTERNS).iter().chain(compiled(LINEAR_PATTERNS));
        for (source, pattern) in PATTERNS.iter().chain(LINEAR_PATTERNS).zip(patterns) {
            let mut memo = Memo::default();
            for line in [&first, &other, &second, &shift_digits(&other, by)] {
                let remembered = pattern.captures_with(&mut memo, line, !line.contains('\n')).map(describe);
                let reference = pattern.captures_reference(line).map(describe);
                prop_assert_eq!(remembered, reference, "pattern {} on {:?}", source, line);
            }
        }
    }
}

/// Prefixes for `(?P<content>.+)$` patterns: optional and alternated
/// groups whose choice depends on how much of the line is left.
fn tail_prefix() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        r"(?P<host>\S+) ",
        r"(?:x+)?",
        r"(?P<user>\w*)",
        r"(?:(?P<a>ab)|a)?",
        r"\s*",
        r".?",
        r"(?:sshd\[\d+\]: )?",
        r"(?P<fid>[^:]+): ",
    ])
}

fn tail_char() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "x",
        " ",
        ":",
        "1",
        "sshd[12]: ",
        "é",
        "ユ",
        "\n",
        "\r",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn shortened_tail_matches_the_full_pattern(
        prefix in prop::collection::vec(tail_prefix(), 0..5),
        chars in prop::collection::vec(tail_char(), 0..12),
    ) {
        let source = format!("^{}(?P<content>.+)$", prefix.concat());
        let Ok(pattern) = Pattern::compile(&source, false) else {
            return Ok(()); // a group name used twice
        };
        prop_assert!(pattern.has_tail(), "{source} should be shortened");
        let line: String = chars.concat();
        let fast = pattern.captures(&line).map(describe);
        let reference = pattern.captures_reference(&line).map(describe);
        prop_assert_eq!(fast, reference, "pattern {} on {:?}", source, line);
    }
}

/// `pattern` on `line`: the rewrite (when the pattern is rewritten) gives
/// the backtracking engine's match and groups, and its verdict.
fn assert_agrees(pattern: &str, line: &str) {
    let compiled = Pattern::compile(pattern, false).unwrap();
    let reference = compiled.captures_reference(line).map(describe);
    assert_eq!(
        compiled.captures(line).map(describe),
        reference,
        "pattern {pattern} on {line:?}"
    );
    assert_eq!(
        compiled.is_match(line).ok(),
        reference.ok().map(|r| r.is_some()),
        "is_match of {pattern} on {line:?}"
    );
}

/// A tempered dot inside a repeated group: the check saw only the last
/// iteration ("a"), not the first ("x", which the look-ahead rejects).
#[test]
fn tempered_dot_inside_a_repetition_checks_every_iteration() {
    assert_agrees(r"^(?:(?:(?!x).)*?;)*$", "x;a;");
}

/// In verbose mode the space in the look-ahead is not part of its literal:
/// the check looked for " b" where the original looks for "b".
#[test]
fn verbose_mode_look_around_is_not_read_literally() {
    assert_agrees(r"(?x)a(?! b)", "ab");
    assert_agrees(r"(?x:a(?! b))", "ab");
}

/// With two groups of one name, fancy-regex's `(?(user)…)` asks about the
/// last of them; the rewrite asked about the first.
#[test]
fn conditional_on_a_name_used_twice_follows_the_backtracking_engine() {
    let pattern = r"(?P<user>a)?(?P<user>b)?(?(user)c|d)";
    assert_agrees(pattern, "bc");
    assert_agrees(pattern, "bd");
}

/// A conditional inside the group it asks about: Python takes the "no"
/// branch (the group has not closed yet), fancy-regex the "yes" one. The
/// rewrite followed Python, so lines whose check failed (run on
/// fancy-regex) would have been read the other way: the pattern stays on
/// one engine.
#[test]
fn conditional_inside_its_own_group_follows_the_backtracking_engine() {
    assert_agrees(r"(?P<host>a(?(host)b|c))", "ac");
    assert_agrees(r"(a(?:x|(?(1)b|c)))", "ac");
}

/// Two groups of one name and no conditional: fancy-regex reports the
/// name for one of them only, the rewrite for the first that took part.
#[test]
fn group_name_used_twice_follows_the_backtracking_engine() {
    assert_agrees(
        r"ab(?P<host>|(?P<host>)(?:(?! from ).)*\S+?):(?:(?! from ).)*",
        "\naéabaé:\n\nb",
    );
}

/// A conditional with nothing in either branch: Python (and the rewrite)
/// go on, fancy-regex fails when the group did not take part.
#[test]
fn empty_conditional_follows_the_backtracking_engine() {
    for pattern in [r"(a)?(?(1))c", r"(a)?(?(1)|)c", r"(a)?(?(1)(?:)|(?:))c"] {
        assert_agrees(pattern, "c");
        assert_agrees(pattern, "ac");
    }
}
