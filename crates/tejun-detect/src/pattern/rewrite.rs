//! Conditionals and literal look-arounds on the linear-time engine, exactly.
//!
//! fail2ban's own sshd filter needs `(?(cond_inv)…|…)` and `(?! from )`,
//! which the `regex` crate cannot run. On the backtracking fallback that one
//! pattern cost more than everything else in a scan, so it is rewritten:
//!
//! * **Conditionals** are resolved statically. Where a referenced group may
//!   or may not take part (an optional group, a branch of an alternation),
//!   the rest of the pattern is copied into each case with the conditional
//!   decided: `A(?P<g>x)?B(?(g)y|z)` becomes `A(?:(?P<g>x)By|Bz)`. The
//!   copies sit exactly where the choice was, in the order the backtracker
//!   tries them, so leftmost-first matching picks the same match. Capture
//!   groups that had to be opened up this way are tracked by empty marker
//!   groups at their start and end.
//! * **Look-arounds of a literal** (`(?!publickey)`, and the "tempered" form
//!   `(?:(?! from ).)*?`) are dropped from the pattern and checked after the
//!   match, on the positions that marker groups record.
//!
//! Without its look-arounds the pattern matches a superset, in the same
//! priority order, so when its best match passes the checks it is also the
//! original's best match. When a check fails (a user name containing
//! " from ", crafted to inject an address) the caller runs the original
//! pattern on the backtracking engine for that one line. Anything else
//! (back-references, look-arounds of a non-literal, conditionals inside a
//! repetition) is [`Unsupported`] and the whole pattern stays on the
//! fallback, as before.

use std::collections::BTreeSet;

use smallvec::SmallVec;

use super::tree::{self, Group, GroupKind, Look, Node, Unsupported};
use crate::memo::{Slot, spans_of};

/// Largest rewritten pattern accepted (copies of the continuation grow it).
const MAX_REWRITTEN_LEN: usize = 64 << 10;

/// A pattern rewritten for the linear engine, with the checks that make its
/// matches exact.
#[derive(Debug)]
pub struct Exact {
    regex: regex::Regex,
    /// What each capture slot of `regex` stands for.
    roles: Vec<Role>,
    checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Unused,
    /// An original named capture group (its index in the original).
    Group(usize),
    /// Start or end of an original capture group that was opened up.
    Start(usize),
    End(usize),
    /// The position or span a look-around is checked on.
    Check(usize),
}

#[derive(Debug, Clone)]
enum Check {
    /// `(?=lit)`, `(?!lit)`, `(?<=lit)`, `(?<!lit)` at the marker's position.
    At {
        literal: String,
        ahead: bool,
        negative: bool,
    },
    /// `(?:(?!lit).)*`: `lit` starts nowhere inside the span. The finder
    /// is built once: building it per line showed in profiles.
    Tempered {
        finder: Box<memchr::memmem::Finder<'static>>,
    },
}

/// The outcome of matching one text.
#[derive(Debug)]
pub enum Verdict {
    NoMatch,
    /// The exact match: whole span, and the span of each original group
    /// that took part, by its index in the original pattern.
    Match {
        whole: (usize, usize),
        groups: SmallVec<[(usize, (usize, usize)); 4]>,
    },
    /// The linear match failed a look-around check: ask the original.
    Undecided,
}

impl Exact {
    /// Rewrites `rust` (the output of [`crate::pyregex::translate`]).
    pub fn build(rust: &str, size_limit: usize) -> Result<Exact, Unsupported> {
        let mut alternatives = tree::parse(rust)?;
        // Flags that open the pattern keep applying to all of it.
        let mut prefix = String::new();
        if alternatives.len() == 1
            && let Some(Node::Group(Group {
                kind: GroupKind::SetFlags(flags),
                ..
            })) = alternatives[0].first()
        {
            prefix = format!("(?{flags})");
            alternatives[0].remove(0);
        }
        if prefix.contains('x') || sets_flag(&alternatives, 'x') {
            // Verbose mode: spaces and `#` comments are not what the tree
            // reads them as (a look-around's literal, a group).
            return Err(Unsupported("verbose mode"));
        }
        if conditional_inside_its_group(&alternatives) {
            // Python takes the "no" branch there, fancy-regex (which runs
            // lines a check rejects) the "yes" one.
            return Err(Unsupported("conditional inside the group it refers to"));
        }
        if has_empty_conditional(&alternatives) {
            // fancy-regex (which runs lines a check rejects) fails there
            // when the group did not take part; Python goes on.
            return Err(Unsupported("conditional with empty branches"));
        }
        let case_insensitive = prefix.contains('i') || sets_flag(&alternatives, 'i');
        let mut rewriter = Rewriter {
            relevant: conditional_groups(&alternatives),
            ..Rewriter::default()
        };
        let top = vec![Node::Group(Group {
            kind: GroupKind::Plain,
            alternatives,
        })];
        let nodes = rewriter.rewrite(
            top.into_iter().map(Item::Node).collect(),
            &Participation::new(),
        )?;
        if case_insensitive && !rewriter.checks.is_empty() {
            // Checks compare literals case-sensitively.
            return Err(Unsupported("case-insensitive look-around"));
        }
        let pattern = format!("{prefix}{}", tree::print(&[nodes]));
        if pattern.len() > MAX_REWRITTEN_LEN {
            return Err(Unsupported("pattern too large once rewritten"));
        }
        let regex = regex::RegexBuilder::new(&pattern)
            .size_limit(size_limit)
            .dfa_size_limit(512 << 10)
            .build()
            .map_err(|_| Unsupported("rewritten pattern does not compile"))?;
        let roles = regex
            .capture_names()
            .map(|name| {
                name.and_then(|n| rewriter.roles.iter().find(|(k, _)| k == n))
                    .map_or(Role::Unused, |(_, role)| role.clone())
            })
            .collect();
        Ok(Exact {
            regex,
            roles,
            checks: rewriter.checks,
        })
    }

    pub fn is_match(&self, hay: &str) -> Option<bool> {
        if self.checks.is_empty() {
            return Some(self.regex.is_match(hay));
        }
        match self.captures(hay) {
            Verdict::NoMatch => Some(false),
            Verdict::Match { .. } => Some(true),
            Verdict::Undecided => None,
        }
    }

    /// The rewritten pattern, for its [`crate::memo::Shape`].
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    pub fn captures(&self, hay: &str) -> Verdict {
        match self.spans(hay) {
            Some(spans) => self.verdict(hay, &spans),
            None => Verdict::NoMatch,
        }
    }

    /// The spans of every group of the rewritten pattern (checks not run).
    pub fn spans(&self, hay: &str) -> Option<Box<[Slot]>> {
        self.regex.captures(hay).as_ref().map(spans_of)
    }

    /// Runs the checks on a match found by [`Exact::spans`] and maps its
    /// groups back to the original pattern's.
    pub fn verdict(&self, hay: &str, spans: &[Slot]) -> Verdict {
        let mut groups: SmallVec<[_; 4]> = SmallVec::new();
        let mut starts: SmallVec<[_; 8]> = SmallVec::new();
        for (role, span) in self.roles.iter().zip(spans) {
            let Some((start, end)) = *span else { continue };
            match role {
                Role::Unused => {}
                Role::Group(index) => groups.push((*index, (start, end))),
                Role::Start(index) => starts.push((*index, start)),
                Role::End(index) => {
                    if let Some((_, open)) = starts.iter().find(|(i, _)| i == index) {
                        groups.push((*index, (*open, start)));
                    }
                }
                Role::Check(check) => {
                    if !self.checks[*check].holds(hay, start, end) {
                        return Verdict::Undecided;
                    }
                }
            }
        }
        Verdict::Match {
            whole: spans.first().copied().flatten().unwrap_or((0, 0)),
            groups,
        }
    }
}

impl Check {
    fn holds(&self, hay: &str, start: usize, end: usize) -> bool {
        match self {
            Check::At {
                literal,
                ahead,
                negative,
            } => {
                let present = if *ahead {
                    hay[start..].starts_with(literal.as_str())
                } else {
                    hay[..start].ends_with(literal.as_str())
                };
                present != *negative
            }
            Check::Tempered { finder } => {
                // The look-ahead ran before each character of the span and
                // may read past its end; bytes, because that end may fall
                // inside a character.
                let window_end = (end + finder.needle().len()).min(hay.len());
                finder
                    .find_iter(&hay.as_bytes()[start..window_end])
                    .all(|at| start + at >= end)
            }
        }
    }
}

/// Capture groups some conditional refers to.
fn conditional_groups(alternatives: &[Vec<Node>]) -> BTreeSet<usize> {
    fn walk(node: &Node, out: &mut BTreeSet<usize>) {
        match node {
            Node::Atom(_) => {}
            Node::Group(Group { alternatives, .. }) | Node::Look(Look { alternatives, .. }) => {
                alternatives.iter().flatten().for_each(|n| walk(n, out));
            }
            Node::Cond { group, yes, no } => {
                out.insert(*group);
                yes.iter().chain(no).for_each(|n| walk(n, out));
            }
            Node::Repeat { node, .. } => walk(node, out),
        }
    }
    let mut out = BTreeSet::new();
    alternatives
        .iter()
        .flatten()
        .for_each(|n| walk(n, &mut out));
    out
}

/// Whether a conditional sits inside the capture group it refers to.
fn conditional_inside_its_group(alternatives: &[Vec<Node>]) -> bool {
    fn walk(node: &Node, open: &mut Vec<usize>) -> bool {
        match node {
            Node::Atom(_) => false,
            Node::Group(Group { kind, alternatives }) => {
                let index = match kind {
                    GroupKind::Capture { index, .. } => Some(*index),
                    _ => None,
                };
                open.extend(index);
                let found = alternatives.iter().flatten().any(|n| walk(n, open));
                if index.is_some() {
                    open.pop();
                }
                found
            }
            Node::Look(Look { alternatives, .. }) => {
                alternatives.iter().flatten().any(|n| walk(n, open))
            }
            Node::Cond { group, yes, no } => {
                open.contains(group) || yes.iter().chain(no).any(|n| walk(n, open))
            }
            Node::Repeat { node, .. } => walk(node, open),
        }
    }
    alternatives
        .iter()
        .flatten()
        .any(|n| walk(n, &mut Vec::new()))
}

/// Whether a conditional has nothing but empty groups in both branches.
fn has_empty_conditional(alternatives: &[Vec<Node>]) -> bool {
    fn empty(node: &Node) -> bool {
        match node {
            Node::Group(Group { alternatives, .. }) => alternatives.iter().flatten().all(empty),
            _ => false,
        }
    }
    fn walk(node: &Node) -> bool {
        match node {
            Node::Atom(_) => false,
            Node::Group(Group { alternatives, .. }) | Node::Look(Look { alternatives, .. }) => {
                alternatives.iter().flatten().any(walk)
            }
            Node::Cond { yes, no, .. } => {
                (yes.iter().all(empty) && no.iter().all(empty)) || yes.iter().chain(no).any(walk)
            }
            Node::Repeat { node, .. } => walk(node),
        }
    }
    alternatives.iter().flatten().any(walk)
}

/// Whether some group turns `flag` on.
fn sets_flag(alternatives: &[Vec<Node>], flag: char) -> bool {
    fn walk(node: &Node, flag: char) -> bool {
        match node {
            Node::Atom(_) => false,
            Node::Group(Group { kind, alternatives }) => {
                let flags = match kind {
                    GroupKind::Flags(f) | GroupKind::SetFlags(f) => {
                        f.split('-').next().unwrap_or("")
                    }
                    _ => "",
                };
                flags.contains(flag) || alternatives.iter().flatten().any(|n| walk(n, flag))
            }
            Node::Look(Look { alternatives, .. }) => {
                alternatives.iter().flatten().any(|n| walk(n, flag))
            }
            Node::Cond { yes, no, .. } => yes.iter().chain(no).any(|n| walk(n, flag)),
            Node::Repeat { node, .. } => walk(node, flag),
        }
    }
    alternatives.iter().flatten().any(|n| walk(n, flag))
}

/// Which referenced groups have taken part so far on this path.
type Participation = BTreeSet<usize>;

/// A sequence element during the rewrite: pattern nodes, plus the marks
/// left where an opened-up capture group started and ended.
#[derive(Debug, Clone)]
enum Item {
    Node(Node),
    /// Start or end of a named group (its index in the original).
    Start(usize),
    End(usize),
    /// A referenced group has just taken part.
    Took(usize),
}

#[derive(Debug, Default)]
struct Rewriter {
    relevant: BTreeSet<usize>,
    roles: Vec<(String, Role)>,
    checks: Vec<Check>,
    emitted_len: usize,
}

impl Rewriter {
    /// Rewrites a sequence (the continuation included) under what is known
    /// of the referenced groups.
    fn rewrite(
        &mut self,
        items: Vec<Item>,
        took: &Participation,
    ) -> Result<Vec<Node>, Unsupported> {
        let mut out = Vec::new();
        let mut took = took.clone();
        for (i, item) in items.iter().enumerate() {
            let node = match item {
                Item::Start(index) => {
                    out.push(self.marker(Role::Start(*index)));
                    continue;
                }
                Item::End(index) => {
                    out.push(self.marker(Role::End(*index)));
                    continue;
                }
                Item::Took(index) => {
                    took.insert(*index);
                    continue;
                }
                Item::Node(node) => node,
            };
            if !self.needs_rewrite(node)? {
                out.push(self.emit(node, false)?);
                continue;
            }
            let rest = &items[i + 1..];
            let then = |head: Vec<Item>| -> Vec<Item> {
                head.into_iter().chain(rest.iter().cloned()).collect()
            };
            let branches: Vec<Vec<Item>> = match node {
                Node::Cond { group, yes, no } => {
                    let branch = if took.contains(group) { yes } else { no };
                    out.extend(self.rewrite(
                        then(branch.iter().cloned().map(Item::Node).collect()),
                        &took,
                    )?);
                    return Ok(out);
                }
                Node::Group(Group { kind, alternatives }) => {
                    let (index, named) = match kind {
                        GroupKind::Capture { index, name } => (Some(*index), name.is_some()),
                        GroupKind::Plain => (None, false),
                        _ => return Err(Unsupported("flags around a conditional")),
                    };
                    alternatives
                        .iter()
                        .map(|alternative| {
                            let mut head = Vec::new();
                            if let Some(index) = index.filter(|_| named) {
                                head.push(Item::Start(index));
                            }
                            head.extend(alternative.iter().cloned().map(Item::Node));
                            if let Some(index) = index {
                                if named {
                                    head.push(Item::End(index));
                                }
                                head.push(Item::Took(index));
                            }
                            then(head)
                        })
                        .collect()
                }
                Node::Repeat { node, quantifier } if quantifier == "?" || quantifier == "??" => {
                    let present = then(vec![Item::Node((**node).clone())]);
                    let absent = then(Vec::new());
                    if quantifier == "?" {
                        vec![present, absent]
                    } else {
                        vec![absent, present]
                    }
                }
                _ => return Err(Unsupported("conditional inside a repetition")),
            };
            let mut rewritten = Vec::new();
            for branch in branches {
                rewritten.push(self.rewrite(branch, &took)?);
            }
            out.push(Node::Group(Group {
                kind: GroupKind::Plain,
                alternatives: rewritten,
            }));
            return Ok(out);
        }
        Ok(out)
    }

    /// Whether `node` holds a conditional or a group one refers to.
    fn needs_rewrite(&self, node: &Node) -> Result<bool, Unsupported> {
        Ok(match node {
            Node::Atom(_) => false,
            Node::Cond { .. } => true,
            Node::Group(Group { kind, alternatives }) => {
                matches!(kind, GroupKind::Capture { index, .. } if self.relevant.contains(index))
                    || alternatives.iter().flatten().try_fold(false, |any, n| {
                        Ok::<_, Unsupported>(any || self.needs_rewrite(n)?)
                    })?
            }
            Node::Look(Look { alternatives, .. }) => {
                if alternatives.iter().flatten().try_fold(false, |any, n| {
                    Ok::<_, Unsupported>(any || self.needs_rewrite(n)?)
                })? {
                    return Err(Unsupported("conditional inside a look-around"));
                }
                false
            }
            Node::Repeat { node, .. } => self.needs_rewrite(node)?,
        })
    }

    /// Copies a node that needs no rewrite, giving its capture groups fresh
    /// names (the continuation may be copied several times) and turning its
    /// look-arounds into checks.
    fn emit(&mut self, node: &Node, in_repeat: bool) -> Result<Node, Unsupported> {
        self.emitted_len += 1;
        if self.emitted_len > MAX_REWRITTEN_LEN {
            return Err(Unsupported("pattern too large once rewritten"));
        }
        Ok(match node {
            Node::Atom(text) => Node::Atom(text.clone()),
            Node::Group(Group { kind, alternatives }) => {
                let alternatives = alternatives
                    .iter()
                    .map(|seq| seq.iter().map(|n| self.emit(n, in_repeat)).collect())
                    .collect::<Result<Vec<Vec<Node>>, _>>()?;
                let kind = match kind {
                    GroupKind::Capture {
                        index,
                        name: Some(_),
                    } => self.fresh(Role::Group(*index)),
                    GroupKind::Capture { name: None, .. } => GroupKind::Plain,
                    GroupKind::SetFlags(_) => return Err(Unsupported("flags inside the pattern")),
                    other => other.clone(),
                };
                Node::Group(Group { kind, alternatives })
            }
            Node::Look(look) => {
                if in_repeat {
                    return Err(Unsupported("look-around inside a repetition"));
                }
                let literal = literal_of(&look.alternatives)?;
                self.check(Check::At {
                    literal,
                    ahead: look.ahead,
                    negative: look.negative,
                })
            }
            Node::Cond { .. } => unreachable!("conditionals are rewritten first"),
            Node::Repeat { node, quantifier } => {
                if let Some(literal) = tempered(node)
                    && matches!(quantifier.as_str(), "*" | "*?" | "+" | "+?")
                {
                    if in_repeat {
                        // The marker would record the last iteration only.
                        return Err(Unsupported("look-around inside a repetition"));
                    }
                    let finder =
                        Box::new(memchr::memmem::Finder::new(literal.as_bytes()).into_owned());
                    let mut marker = self.check(Check::Tempered { finder });
                    if let Node::Group(group) = &mut marker {
                        group.alternatives = vec![vec![Node::Repeat {
                            node: Box::new(Node::Atom(".".into())),
                            quantifier: quantifier.clone(),
                        }]];
                    }
                    marker
                } else {
                    Node::Repeat {
                        node: Box::new(self.emit(node, true)?),
                        quantifier: quantifier.clone(),
                    }
                }
            }
        })
    }

    fn fresh(&mut self, role: Role) -> GroupKind {
        let name = format!("t{}", self.roles.len());
        self.roles.push((name.clone(), role));
        GroupKind::Capture {
            index: 0,
            name: Some(name),
        }
    }

    fn marker(&mut self, role: Role) -> Node {
        Node::Group(Group {
            kind: self.fresh(role),
            alternatives: vec![Vec::new()],
        })
    }

    fn check(&mut self, check: Check) -> Node {
        self.checks.push(check);
        self.marker(Role::Check(self.checks.len() - 1))
    }
}

/// The text of a look-around whose body is a plain literal.
fn literal_of(alternatives: &[Vec<Node>]) -> Result<String, Unsupported> {
    let [sequence] = alternatives else {
        return Err(Unsupported("look-around of an alternation"));
    };
    let mut literal = String::new();
    for node in sequence {
        let Node::Atom(text) = node else {
            return Err(Unsupported("look-around of a non-literal"));
        };
        let mut chars = text.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some('\\'), Some(c), None) if !c.is_ascii_alphanumeric() => literal.push(c),
            (Some(c), None, None) if !".^$".contains(c) => literal.push(c),
            _ => return Err(Unsupported("look-around of a non-literal")),
        }
    }
    if literal.is_empty() {
        return Err(Unsupported("empty look-around"));
    }
    Ok(literal)
}

/// The literal of a tempered token `(?:(?!lit).)`.
fn tempered(node: &Node) -> Option<String> {
    let Node::Group(Group {
        kind: GroupKind::Plain,
        alternatives,
    }) = node
    else {
        return None;
    };
    let [sequence] = alternatives.as_slice() else {
        return None;
    };
    match sequence.as_slice() {
        [
            Node::Look(Look {
                ahead: true,
                negative: true,
                alternatives,
            }),
            Node::Atom(dot),
        ] if dot == "." => literal_of(alternatives).ok(),
        _ => None,
    }
}
