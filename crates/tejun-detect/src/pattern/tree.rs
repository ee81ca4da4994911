//! A pattern (in the Rust spelling that [`crate::pyregex::translate`]
//! produces) as a tree of groups, alternations and quantifiers.
//!
//! Only the structure the rewrite in [`super::rewrite`] moves around is
//! parsed: groups, look-arounds, conditionals and the quantifiers on them.
//! Everything else (characters, escapes, classes, anchors) is kept as
//! opaque text and printed back unchanged, so a parse followed by a print
//! gives the same pattern.

/// One element of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Text printed back verbatim: a character, an escape, a class.
    Atom(String),
    Group(Group),
    /// `(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`.
    Look(Look),
    /// `(?(name)yes|no)`; `group` is the index of the referenced capture
    /// group (numbered from 1, in order of opening parentheses).
    Cond {
        group: usize,
        yes: Vec<Node>,
        no: Vec<Node>,
    },
    Repeat {
        node: Box<Node>,
        /// `*`, `+?`, `{2,5}`, …, printed back as is.
        quantifier: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub kind: GroupKind,
    pub alternatives: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// A capture group, with its index and name (`None` when unnamed).
    Capture { index: usize, name: Option<String> },
    /// `(?:…)`.
    Plain,
    /// `(?flags:…)`, the flags as written.
    Flags(String),
    /// `(?flags)`: sets flags for the rest of the enclosing group.
    SetFlags(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    pub ahead: bool,
    pub negative: bool,
    pub alternatives: Vec<Vec<Node>>,
}

/// Why a pattern was not parsed (the caller keeps the backtracking engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

/// Parses a whole pattern into its top-level alternatives.
pub fn parse(pattern: &str) -> Result<Vec<Vec<Node>>, Unsupported> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
        captures: 0,
        conditional_names: Vec::new(),
        names: Vec::new(),
    };
    let alternatives = parser.alternatives()?;
    if parser.pos != chars.len() {
        return Err(Unsupported("unbalanced parenthesis"));
    }
    let mut tree = alternatives;
    parser.resolve_names(&mut tree)?;
    Ok(tree)
}

struct Parser<'c> {
    chars: &'c [char],
    pos: usize,
    captures: usize,
    /// Conditionals that name their group, resolved once all groups are
    /// known: (placeholder index, name).
    conditional_names: Vec<(usize, String)>,
    names: Vec<(String, usize)>,
}

/// Placeholder group indices for named conditionals start here.
const NAMED_PLACEHOLDER: usize = usize::MAX / 2;

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        (self.pos..)
            .zip(text.chars())
            .all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn alternatives(&mut self) -> Result<Vec<Vec<Node>>, Unsupported> {
        let mut alternatives = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alternatives.push(self.sequence()?);
        }
        Ok(alternatives)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, Unsupported> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            let node = match c {
                '|' | ')' => break,
                '(' => self.group()?,
                '[' => Node::Atom(self.class()?),
                '\\' => Node::Atom(self.escape()?),
                '*' | '+' | '?' | '{' if quantifier_len(&self.chars[self.pos..]).is_some() => {
                    let len = quantifier_len(&self.chars[self.pos..]).expect("checked");
                    let quantifier: String = self.chars[self.pos..self.pos + len].iter().collect();
                    self.pos += len;
                    if quantifier.ends_with('+') && quantifier.len() > 1 {
                        return Err(Unsupported("possessive quantifier"));
                    }
                    let Some(last) = nodes.pop() else {
                        return Err(Unsupported("quantifier without operand"));
                    };
                    nodes.push(Node::Repeat {
                        node: Box::new(last),
                        quantifier,
                    });
                    continue;
                }
                c => {
                    self.pos += 1;
                    Node::Atom(c.to_string())
                }
            };
            nodes.push(node);
        }
        Ok(nodes)
    }

    fn escape(&mut self) -> Result<String, Unsupported> {
        let start = self.pos;
        self.pos += 1;
        let Some(next) = self.peek() else {
            return Err(Unsupported("trailing backslash"));
        };
        self.pos += 1;
        match next {
            '1'..='9' | 'k' => return Err(Unsupported("back-reference")),
            'p' | 'P' | 'x' | 'u' | 'U' if self.peek() == Some('{') => {
                let close = self.chars[self.pos..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or(Unsupported("unclosed escape"))?;
                self.pos += close + 1;
            }
            _ => {}
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn class(&mut self) -> Result<String, Unsupported> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '\\' => self.pos += 1,
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.chars[start..self.pos].iter().collect());
                    }
                }
                _ => {}
            }
        }
        Err(Unsupported("unclosed class"))
    }

    fn group(&mut self) -> Result<Node, Unsupported> {
        self.pos += 1; // (
        let node = if self.starts_with("?:") {
            self.pos += 2;
            self.group_body(GroupKind::Plain)?
        } else if self.starts_with("?P<") || (self.starts_with("?<") && !self.look_behind_next()) {
            self.pos += if self.starts_with("?P<") { 3 } else { 2 };
            let close = self.chars[self.pos..]
                .iter()
                .position(|&c| c == '>')
                .ok_or(Unsupported("unclosed group name"))?;
            let name: String = self.chars[self.pos..self.pos + close].iter().collect();
            self.pos += close + 1;
            self.captures += 1;
            let index = self.captures;
            if self.names.iter().any(|(n, _)| *n == name) {
                // Python refuses it; fancy-regex reads the name as its last
                // group, in conditionals and in captures alike.
                return Err(Unsupported("group name used twice"));
            }
            self.names.push((name.clone(), index));
            self.group_body(GroupKind::Capture {
                index,
                name: Some(name),
            })?
        } else if self.starts_with("?=")
            || self.starts_with("?!")
            || self.starts_with("?<=")
            || self.starts_with("?<!")
        {
            let ahead = !self.starts_with("?<");
            let negative = self.chars.get(self.pos + if ahead { 1 } else { 2 }) == Some(&'!');
            self.pos += if ahead { 2 } else { 3 };
            let alternatives = self.alternatives()?;
            self.close()?;
            return Ok(Node::Look(Look {
                ahead,
                negative,
                alternatives,
            }));
        } else if self.starts_with("?(") {
            self.pos += 2;
            let close = self.chars[self.pos..]
                .iter()
                .position(|&c| c == ')')
                .ok_or(Unsupported("unclosed conditional"))?;
            let reference: String = self.chars[self.pos..self.pos + close].iter().collect();
            self.pos += close + 1;
            let reference = reference.trim_start_matches('<').trim_end_matches('>');
            let group = match reference.parse::<usize>() {
                Ok(index) => index,
                Err(_) => {
                    let placeholder = NAMED_PLACEHOLDER + self.conditional_names.len();
                    self.conditional_names
                        .push((placeholder, reference.to_string()));
                    placeholder
                }
            };
            let mut branches = self.alternatives()?;
            self.close()?;
            if branches.len() > 2 {
                return Err(Unsupported("conditional with more than two branches"));
            }
            let no = if branches.len() == 2 {
                branches.pop().expect("two")
            } else {
                Vec::new()
            };
            let yes = branches.pop().expect("one");
            return Ok(Node::Cond { group, yes, no });
        } else if self.starts_with("?") {
            self.pos += 1;
            let flags_len = self.chars[self.pos..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                .count();
            let flags: String = self.chars[self.pos..self.pos + flags_len].iter().collect();
            self.pos += flags_len;
            match self.peek() {
                Some(':') => {
                    self.pos += 1;
                    self.group_body(GroupKind::Flags(flags))?
                }
                Some(')') if flags_len > 0 => {
                    self.pos += 1;
                    return Ok(Node::Group(Group {
                        kind: GroupKind::SetFlags(flags),
                        alternatives: vec![Vec::new()],
                    }));
                }
                _ => return Err(Unsupported("group syntax")),
            }
        } else {
            self.captures += 1;
            let index = self.captures;
            self.group_body(GroupKind::Capture { index, name: None })?
        };
        Ok(node)
    }

    fn look_behind_next(&self) -> bool {
        self.starts_with("?<=") || self.starts_with("?<!")
    }

    fn group_body(&mut self, kind: GroupKind) -> Result<Node, Unsupported> {
        let alternatives = self.alternatives()?;
        self.close()?;
        Ok(Node::Group(Group { kind, alternatives }))
    }

    fn close(&mut self) -> Result<(), Unsupported> {
        if self.peek() == Some(')') {
            self.pos += 1;
            Ok(())
        } else {
            Err(Unsupported("unclosed group"))
        }
    }

    /// Replaces the placeholders of named conditionals by group indices.
    fn resolve_names(&self, tree: &mut [Vec<Node>]) -> Result<(), Unsupported> {
        let lookup = |placeholder: usize| -> Result<usize, Unsupported> {
            let (_, name) = self
                .conditional_names
                .iter()
                .find(|(p, _)| *p == placeholder)
                .ok_or(Unsupported("conditional"))?;
            self.names
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, i)| *i)
                .ok_or(Unsupported("conditional on an unknown group"))
        };
        visit_mut(tree, &mut |node| {
            if let Node::Cond { group, .. } = node
                && *group >= NAMED_PLACEHOLDER
            {
                *group = lookup(*group)?;
            }
            Ok(())
        })
    }
}

/// Calls `f` on every node, depth first.
fn visit_mut(
    alternatives: &mut [Vec<Node>],
    f: &mut impl FnMut(&mut Node) -> Result<(), Unsupported>,
) -> Result<(), Unsupported> {
    alternatives
        .iter_mut()
        .flatten()
        .try_for_each(|node| visit_node(node, f))
}

fn visit_node(
    node: &mut Node,
    f: &mut impl FnMut(&mut Node) -> Result<(), Unsupported>,
) -> Result<(), Unsupported> {
    f(node)?;
    match node {
        Node::Atom(_) => Ok(()),
        Node::Group(Group { alternatives, .. }) | Node::Look(Look { alternatives, .. }) => {
            visit_mut(alternatives, f)
        }
        Node::Cond { yes, no, .. } => yes
            .iter_mut()
            .chain(no.iter_mut())
            .try_for_each(|n| visit_node(n, f)),
        Node::Repeat { node, .. } => visit_node(node, f),
    }
}

/// Length of a quantifier at the start of `chars` (with its lazy `?` or
/// possessive `+` suffix), if there is one.
fn quantifier_len(chars: &[char]) -> Option<usize> {
    let base = match chars.first()? {
        '*' | '+' | '?' => 1,
        '{' => {
            let close = chars.iter().position(|&c| c == '}')?;
            let inner: String = chars[1..close].iter().collect();
            let valid = !inner.is_empty()
                && inner.chars().all(|c| c.is_ascii_digit() || c == ',')
                && inner.matches(',').count() <= 1
                && !inner.starts_with(',');
            if !valid {
                return None;
            }
            close + 1
        }
        _ => return None,
    };
    Some(match chars.get(base) {
        Some('?') | Some('+') => base + 1,
        _ => base,
    })
}

/// Prints alternatives back as a pattern.
pub fn print(alternatives: &[Vec<Node>]) -> String {
    let mut out = String::new();
    print_alternatives(alternatives, &mut out);
    out
}

fn print_alternatives(alternatives: &[Vec<Node>], out: &mut String) {
    for (i, sequence) in alternatives.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for node in sequence {
            print_node(node, out);
        }
    }
}

fn print_node(node: &Node, out: &mut String) {
    match node {
        Node::Atom(text) => out.push_str(text),
        Node::Group(group) => {
            match &group.kind {
                GroupKind::Capture { name: Some(n), .. } => {
                    out.push_str("(?P<");
                    out.push_str(n);
                    out.push('>');
                }
                GroupKind::Capture { name: None, .. } => out.push('('),
                GroupKind::Plain => out.push_str("(?:"),
                GroupKind::Flags(f) => {
                    out.push_str("(?");
                    out.push_str(f);
                    out.push(':');
                }
                GroupKind::SetFlags(f) => {
                    out.push_str("(?");
                    out.push_str(f);
                    out.push(')');
                    return;
                }
            }
            print_alternatives(&group.alternatives, out);
            out.push(')');
        }
        Node::Look(look) => {
            out.push_str(match (look.ahead, look.negative) {
                (true, false) => "(?=",
                (true, true) => "(?!",
                (false, false) => "(?<=",
                (false, true) => "(?<!",
            });
            print_alternatives(&look.alternatives, out);
            out.push(')');
        }
        Node::Cond { group, yes, no } => {
            out.push_str(&format!("(?({group})"));
            print_alternatives(&[yes.clone(), no.clone()], out);
            out.push(')');
        }
        Node::Repeat { node, quantifier } => {
            print_node(node, out);
            out.push_str(quantifier);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_gives_back_the_pattern() {
        for pattern in [
            r"^Failed \S+ for (?P<i>invalid user )?(?P<u>\S+|(?(1)(?:(?! from ).)*?|[^:]+)) from x$",
            r"a(?:b|c)*?[^\]()]+\d{2,3}(x)?(?i:y)\p{Greek}",
            r"(?m)^(?<=ab)c(?!d)|e",
        ] {
            assert_eq!(print(&parse(pattern).unwrap()), pattern);
        }
    }

    #[test]
    fn named_conditionals_point_at_their_group() {
        let tree = parse(r"(?P<a>x)?(?(<a>)y|z)").unwrap();
        assert!(matches!(tree[0][1], Node::Cond { group: 1, .. }));
    }

    #[test]
    fn back_references_are_not_parsed() {
        assert_eq!(parse(r"(a)\1"), Err(Unsupported("back-reference")));
        assert_eq!(parse(r"(a"), Err(Unsupported("unclosed group")));
    }
}
