//! The linear rewrite agrees with the backtracking engine on generated
//! lines, for hand-written patterns that use every construct it rewrites:
//! conditionals on optional and alternated groups, literal look-arounds and
//! tempered dots. Lines mix the tokens those constructs test for with
//! multi-byte text, so checks land next to character boundaries.

use proptest::prelude::*;
use tejun_detect::Pattern;

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

fn describe(groups: Option<tejun_detect::pattern::Groups<'_>>) -> Option<String> {
    groups.map(|g| {
        let mut pairs: Vec<String> = g.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.sort();
        format!("{:?} {}", g.whole, pairs.join(" "))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rewrite_matches_the_backtracking_engine(tokens in prop::collection::vec(token(), 0..14)) {
        let line: String = tokens.concat();
        for source in PATTERNS {
            let pattern = Pattern::compile(source, false).unwrap();
            prop_assert!(pattern.is_rewritten(), "{source} should run rewritten");
            let fast = pattern.captures(&line).map(describe);
            let reference = pattern.captures_reference(&line).map(describe);
            prop_assert_eq!(fast, reference, "pattern {} on {:?}", source, line);
        }
    }
}
