//! Built-in rule sets, shipped as YAML in `rules/` and embedded at build time
//! so the binary needs no data files. docs/rules.md describes each set.

/// `(name, file name, YAML)` of every built-in set.
pub const SETS: &[(&str, &str, &str)] = &[
    (
        "sshd",
        "rules/sshd.yaml",
        include_str!("../../../rules/sshd.yaml"),
    ),
    (
        "web-auth",
        "rules/web-auth.yaml",
        include_str!("../../../rules/web-auth.yaml"),
    ),
    (
        "web-attacks",
        "rules/web-attacks.yaml",
        include_str!("../../../rules/web-attacks.yaml"),
    ),
    (
        "mysql",
        "rules/mysql.yaml",
        include_str!("../../../rules/mysql.yaml"),
    ),
];

pub fn names() -> Vec<&'static str> {
    SETS.iter().map(|(n, _, _)| *n).collect()
}
