//! Python `re` syntax → Rust `regex` syntax.
//!
//! fail2ban filters are Python regexes. Most of them only differ from the
//! `regex` crate in spelling (`\<` is a literal `<` in Python but a word
//! boundary in Rust, `{,3}`, a bare `{` or `[` inside a class), and those are
//! rewritten here so the pattern keeps running on the linear-time engine.
//! What has no linear-time equivalent (look-around, back-references,
//! conditionals, atomic groups) is flagged, so the caller can pick the
//! backtracking fallback for that one pattern and report it.

/// The result of translating one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub rust: String,
    /// Constructs only a backtracking engine can run.
    pub backtracking: Vec<&'static str>,
}

/// Rewrites a Python pattern. Never fails: what it cannot rewrite is left as
/// is, and the compiler of the chosen engine reports it.
pub fn translate(py: &str) -> Translated {
    let chars: Vec<char> = py.chars().collect();
    let mut out = String::with_capacity(py.len() + 8);
    let mut needs = Vec::new();
    let mut need = |what: &'static str| {
        if !needs.contains(&what) {
            needs.push(what);
        }
    };
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                out.push_str("\\\\");
                break;
            };
            i += 2;
            match next {
                'Z' => out.push_str(r"\z"),
                '1'..='9' if !in_class => {
                    need("back-reference");
                    out.push('\\');
                    out.push(next);
                }
                c if c.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(c);
                }
                c => push_literal(&mut out, c, in_class),
            }
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after `[` or `[^` is a literal in Python.
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..chars.len().min(i + 6)].iter().collect();
                if rest.starts_with("P=") {
                    // (?P=name) → \k<name>
                    let end = chars[i..].iter().position(|&c| c == ')').map(|p| p + i);
                    if let Some(end) = end {
                        let name: String = chars[i + 4..end].iter().collect();
                        need("back-reference");
                        out.push_str(&format!(r"\k<{name}>"));
                        i = end + 1;
                        continue;
                    }
                } else if rest.starts_with('#') {
                    let end = chars[i..].iter().position(|&c| c == ')').map(|p| p + i);
                    i = end.map_or(chars.len(), |e| e + 1);
                    continue;
                } else if rest.starts_with('=') || rest.starts_with('!') {
                    need("look-ahead");
                } else if rest.starts_with("<=") || rest.starts_with("<!") {
                    need("look-behind");
                } else if rest.starts_with('(') {
                    need("conditional");
                    // fancy-regex reads `(?(name)` as a look-ahead for the
                    // text "name"; Python means "if group `name` matched".
                    let close = chars[i + 3..]
                        .iter()
                        .position(|&c| c == ')')
                        .map(|p| p + i + 3);
                    if let Some(close) = close {
                        let name: String = chars[i + 3..close].iter().collect();
                        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                        {
                            if name.chars().all(|c| c.is_ascii_digit()) {
                                out.push_str(&format!("(?({name})"));
                            } else {
                                out.push_str(&format!("(?(<{name}>)"));
                            }
                            i = close + 1;
                            continue;
                        }
                    }
                } else if rest.starts_with('>') {
                    need("atomic group");
                } else if let Some(flags_len) = global_flags_len(&chars[i + 2..]) {
                    // Python-only flags: a (ASCII), L (locale), u (unicode, default).
                    let flags: String = chars[i + 2..i + 2 + flags_len]
                        .iter()
                        .filter(|c| !matches!(c, 'a' | 'L' | 'u'))
                        .collect();
                    if !flags.is_empty() {
                        out.push_str("(?");
                        out.push_str(&flags);
                        out.push(')');
                    }
                    i += 2 + flags_len + 1;
                    continue;
                }
                out.push('(');
                i += 1;
            }
            '{' => match quantifier(&chars[i..]) {
                Some((text, len)) => {
                    out.push_str(&text);
                    i += len;
                    if matches!(chars.get(i), Some('+')) {
                        need("possessive quantifier");
                    }
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '*' | '+' | '?' => {
                out.push(c);
                i += 1;
                if chars.get(i) == Some(&'+') && !(c == '?' && i >= 2 && chars[i - 2] == '(') {
                    need("possessive quantifier");
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Translated {
        rust: out,
        backtracking: needs,
    }
}

/// Length of the letters in `(?aiLmsux)`, when the group is only flags.
fn global_flags_len(after_q: &[char]) -> Option<usize> {
    let len = after_q
        .iter()
        .take_while(|c| "aiLmsux".contains(**c))
        .count();
    (len > 0 && after_q.get(len) == Some(&')')).then_some(len)
}

/// A valid `{n}`, `{n,}`, `{n,m}` or `{,m}` at the start of `chars`, in Rust
/// spelling, with its length in `chars`.
fn quantifier(chars: &[char]) -> Option<(String, usize)> {
    let end = chars.iter().position(|&c| c == '}')?;
    let inner: String = chars[1..end].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(lo) || !hi.is_none_or(digits) || (lo.is_empty() && hi.is_none_or(str::is_empty)) {
        return None;
    }
    let lo = if lo.is_empty() { "0" } else { lo };
    let text = match hi {
        None => format!("{{{lo}}}"),
        Some(hi) => format!("{{{lo},{hi}}}"),
    };
    Some((text, end + 1))
}

fn push_literal(out: &mut String, c: char, in_class: bool) {
    let meta = if in_class {
        "\\[]^-&~"
    } else {
        "\\.+*?()|[]{}^$#&-~"
    };
    if meta.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_python_spellings() {
        assert_eq!(translate(r"\<HOST\>").rust, "<HOST>");
        assert_eq!(translate(r"a{,3}b{2}c{x}").rust, r"a{0,3}b{2}c\{x\}");
        assert_eq!(translate(r"[[(]x[]]").rust, r"[\[(]x[\]]");
        assert_eq!(translate(r"end\Z").rust, r"end\z");
        assert_eq!(translate(r"(?iu)x").rust, r"(?i)x");
        assert!(
            translate(r"(?P<a>x)(?P=a)")
                .backtracking
                .contains(&"back-reference")
        );
        assert!(translate(r"x(?!y)").backtracking.contains(&"look-ahead"));
        assert!(
            translate(r"(?(a)b|c)")
                .backtracking
                .contains(&"conditional")
        );
        assert!(translate(r"(?:x)").backtracking.is_empty());
        assert!(translate(r"(?P<n>x)+?").backtracking.is_empty());
    }
}

/// A linear-engine superset of a backtracking pattern (already in Rust
/// spelling): look-arounds dropped, conditionals turned into plain
/// alternations, back-references into `.*?`, atomic groups and possessive
/// quantifiers made ordinary. Anything the original matches, this matches,
/// so a line it rejects can skip the backtracking engine entirely.
pub fn relax(rust: &str) -> String {
    let chars: Vec<char> = rust.chars().collect();
    let mut out = String::with_capacity(rust.len());
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let next = chars.get(i + 1).copied();
            match next {
                Some('k') if !in_class && chars.get(i + 2) == Some(&'<') => {
                    let end = chars[i..]
                        .iter()
                        .position(|&c| c == '>')
                        .map_or(chars.len(), |p| p + i);
                    out.push_str("(?s:.*?)");
                    i = end + 1;
                }
                Some('1'..='9') if !in_class => {
                    out.push_str("(?s:.*?)");
                    i += 2;
                }
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                    i += 2;
                }
                None => i += 1,
            }
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push('[');
            i += 1;
            // A leading `]` or `^]` is literal.
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i) == Some(&']') {
                out.push(']');
                i += 1;
            }
            continue;
        }
        if c == '(' && chars.get(i + 1) == Some(&'?') {
            let rest: String = chars[i + 2..chars.len().min(i + 4)].iter().collect();
            if rest.starts_with('=')
                || rest.starts_with('!')
                || rest.starts_with("<=")
                || rest.starts_with("<!")
            {
                i = group_end(&chars, i) + 1;
                continue;
            }
            if rest.starts_with('(') {
                let close = chars[i + 3..]
                    .iter()
                    .position(|&c| c == ')')
                    .map_or(chars.len(), |p| p + i + 3);
                out.push_str("(?:");
                i = close + 1;
                continue;
            }
            if rest.starts_with('>') {
                out.push_str("(?:");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
        if matches!(c, '*' | '+' | '?' | '}') && chars.get(i) == Some(&'+') {
            i += 1;
        }
    }
    out
}

/// Index of the `)` closing the group that opens at `open`.
fn group_end(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod relax_tests {
    use super::*;

    #[test]
    fn relaxed_pattern_is_linear_superset() {
        let t = translate(
            r"^Failed (?P<i>invalid )?(?P<u>\S+|(?(i)(?:(?! from ).)*?|[^:]+)) from (?P=u)(?(u): |$)",
        );
        let relaxed = relax(&t.rust);
        let re = regex::Regex::new(&relaxed).expect(&relaxed);
        assert!(re.is_match("Failed invalid x from x: "));
        assert!(!re.is_match("Accepted x from y"));
    }
}
