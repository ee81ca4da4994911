//! Keys that tell two texts apart only where the automaton does, step by
//! step.
//!
//! A pattern's byte classes are global: `6[0-1]|[0-5]?\d` puts 6 apart from
//! 5 everywhere, so `00:00:02` and `00:00:04` have different shapes although
//! no state that reads the last digit cares. Here the key of a text is the
//! sequence of classes each byte falls in *for the states active at that
//! step* (anchored at the text's start). Two texts with one key drive every
//! state they reach the same way, byte for byte, so the automaton has the
//! same paths through both and any leftmost-first engine reports the same
//! groups. The states are those of a Thompson NFA of the pattern; sets of
//! them are interned lazily, like a lazy DFA. Keys themselves are interned
//! in a trie whose nodes follow the steps, with a transition per byte, so
//! a text's key is one node, found with one table lookup per byte and no
//! hashing.
//!
//! Only patterns whose look-arounds are `^` and `$` (text start and end) are
//! walked: `^` holds at the first step only, and `$` after the last, which
//! no class is read for; other assertions read bytes around the step they
//! guard.

use std::sync::Arc;

use regex_automata::nfa::thompson::{NFA, State};
use regex_automata::util::look::Look;
use regex_automata::util::primitives::StateID;
use regex_syntax::hir::Hir;

use crate::matcher::FastMap;

/// Interned state sets per thread and pattern before keys give up (the
/// caller then falls back to the pattern's global classes).
const MAX_STEPS: usize = 4096;
/// Interned keys (trie nodes) per thread and pattern before giving up:
/// each costs 512 bytes of byte transitions. Dates need tens.
const MAX_NODES: usize = 1 << 10;
/// A transition not worked out yet.
const UNKNOWN: u32 = u32::MAX;
/// In `by_byte`: a byte not worked out yet at its node.
const BYTE_UNKNOWN: u16 = u16::MAX;
/// In `by_byte`: any byte read at a node where no state is active (see
/// [`Steps::walk`]).
const DEAD: u16 = u16::MAX - 1;
/// Bytes at the start of the last walked text remembered with the node
/// after each (see [`Trail`]).
const TRAIL: usize = 16;
// Node numbers fit in `by_byte`'s entries next to the two markers.
const _: () = assert!(MAX_NODES < DEAD as usize);

/// A pattern's automaton, shared by the threads that walk it.
#[derive(Debug, Clone)]
pub struct Automaton(Arc<NFA>);

impl Automaton {
    /// `None` when the pattern does not compile or has a look-around other
    /// than `^` and `$`.
    pub fn of(pattern: &str) -> Option<Automaton> {
        Automaton::checked(
            NFA::compiler()
                .configure(NFA::config().nfa_size_limit(Some(1 << 20)))
                .build(pattern)
                .ok()?,
        )
    }

    /// [`Automaton::of`] a syntax tree.
    pub fn of_hir(hir: &Hir) -> Option<Automaton> {
        Automaton::checked(
            NFA::compiler()
                .configure(NFA::config().nfa_size_limit(Some(1 << 20)))
                .build_from_hir(hir)
                .ok()?,
        )
    }

    fn checked(nfa: NFA) -> Option<Automaton> {
        let text_anchors_only = nfa.states().iter().all(|state| match state {
            State::Look { look, .. } => matches!(look, Look::Start | Look::End),
            _ => true,
        });
        text_anchors_only.then(|| Automaton(Arc::new(nfa)))
    }
}

/// One set of active states: the class of each byte for them, and where
/// each class leads.
#[derive(Debug)]
struct Step {
    /// The active states, sorted.
    states: Box<[StateID]>,
    classes: [u8; 256],
    /// A byte of each class.
    representatives: Vec<u8>,
    next: Vec<u32>,
}

/// A key read so far: the step it leads to, and the key one class longer
/// for each class of that step.
#[derive(Debug)]
struct Node {
    step: u32,
    children: Box<[u32]>,
}

/// The start of the last walked text and the node after each of its
/// bytes: lines walked one after another often share their start (a
/// date's minute, a host and daemon), and a walk resumes where its text
/// parts from the last one. A node depends only on the bytes before it,
/// so the node after a shared start is the same.
#[derive(Debug, Default)]
struct Trail {
    text: [u8; TRAIL],
    /// `nodes[i]`: the node after `text[..i]`, valid for `i <= len`.
    nodes: [u32; TRAIL + 1],
    len: usize,
}

/// One thread's interned steps and keys for one [`Automaton`].
#[derive(Debug, Default)]
pub struct Steps {
    steps: Vec<Step>,
    index: FastMap<Box<[StateID]>, u32>,
    /// Start steps elsewhere and at the text's start.
    starts: [Option<u32>; 2],
    nodes: Vec<Node>,
    /// Per node, the node each byte leads to ([`BYTE_UNKNOWN`]: not worked
    /// out): the classes resolved ahead, so a step is one dependent load.
    /// Two bytes an entry: the table is walked on every line. (A column per
    /// byte class instead does not shrink it: the automata of fail2ban's
    /// sshd date and prefregex have 137-178 byte classes.)
    by_byte: Vec<u16>,
    /// The empty key of each of the caller's four kinds of texts.
    roots: [Option<u32>; 4],
    trail: Trail,
    stack: Vec<StateID>,
    seen: Vec<bool>,
}

/// Where [`Steps::walk`] stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walk {
    /// The key of the bytes read.
    pub node: u32,
    /// Whether the walk ran to the end of the text, states still active.
    pub ended: bool,
    /// Bytes read, through the one read where no state was left.
    pub read: usize,
}

impl Steps {
    /// The key of `text`, a match of the pattern walked from its anchored
    /// start (`^` holds when `kind & 1`), as a node number: two texts of
    /// the same `kind` share it exactly when their class sequences are the
    /// same. `None` when a table is full.
    pub fn key(&mut self, automaton: &Automaton, text: &[u8], kind: u8) -> Option<u32> {
        let nfa = &*automaton.0;
        let mut at = self.root(nfa, kind)?;
        for &byte in text {
            at = self.next(nfa, at, byte)?;
        }
        Some(at)
    }

    /// Walks `text` from its start (where `^` holds) until no state is
    /// active, reading at most `limit` bytes: the key of the bytes read,
    /// whether the walk stopped at the end of `text`, and how many bytes it
    /// read (through the one it read where no state was left). Two texts
    /// with the same walk drive every state the same way over the bytes read,
    /// and after them no state is active or both texts end; no engine
    /// reads further, so a leftmost-first search of the pattern finds the
    /// same match with the same groups in both — without the search being
    /// run. `None` when a table is full or the walk is longer than `limit`.
    pub fn walk(&mut self, automaton: &Automaton, text: &[u8], limit: usize) -> Option<Walk> {
        let nfa = &*automaton.0;
        let root = self.root(nfa, 1)?;
        let capped = text.len() > limit;
        let text = &text[..text.len().min(limit)];
        let mut head = [0u8; TRAIL];
        let known = text.len().min(TRAIL);
        head[..known].copy_from_slice(&text[..known]);
        let trail = &mut self.trail;
        let shared = common_prefix(&head, &trail.text).min(known).min(trail.len);
        trail.text = head;
        trail.len = shared;
        trail.nodes[0] = root;
        let mut at = trail.nodes[shared];
        // The bytes of the trail note their nodes for the next walk; the
        // rest, in a loop of their own, only step.
        let mut read = shared;
        let stopped = |node, read| Walk {
            node,
            ended: false,
            read,
        };
        while read < known {
            match self.walk_step(nfa, at, text[read])? {
                Some(next) => at = next,
                None => return Some(stopped(at, read + 1)),
            }
            read += 1;
            self.trail.nodes[read] = at;
            self.trail.len = read;
        }
        for (offset, &byte) in text[read..].iter().enumerate() {
            match self.walk_step(nfa, at, byte)? {
                Some(next) => at = next,
                None => return Some(stopped(at, read + offset + 1)),
            }
        }
        // Read `limit` bytes and still going: longer than allowed.
        (!capped).then_some(Walk {
            node: at,
            ended: true,
            read: text.len(),
        })
    }

    /// The node a walk from the start of a text is at after `text`, or
    /// from node `at` when given; `None` where no state is left or a table
    /// is full.
    #[inline]
    pub fn walk_on(&mut self, automaton: &Automaton, at: Option<u32>, text: &[u8]) -> Option<u32> {
        let nfa = &*automaton.0;
        let mut at = match at {
            Some(at) => at,
            None => self.root(nfa, 1)?,
        };
        for &byte in text {
            at = self.walk_step(nfa, at, byte)??;
        }
        Some(at)
    }

    /// The node a walk goes to from `at` on `byte`; `Some(None)` where no
    /// state is left (the walk stops), `None` when a table is full.
    #[inline(always)]
    fn walk_step(&mut self, nfa: &NFA, at: u32, byte: u8) -> Option<Option<u32>> {
        match self.by_byte[Self::entry(at, byte)] {
            DEAD => Some(None),
            BYTE_UNKNOWN => self.child(nfa, at, byte).map(Some),
            next => Some(Some(u32::from(next))),
        }
    }

    /// The empty key of texts of `kind`.
    fn root(&mut self, nfa: &NFA, kind: u8) -> Option<u32> {
        if let Some(root) = self.roots[usize::from(kind & 3)] {
            return Some(root);
        }
        let step = self.start(nfa, kind & 1 == 1)?;
        let root = self.node(step)?;
        self.roots[usize::from(kind & 3)] = Some(root);
        Some(root)
    }

    /// Where `by_byte` says where `byte` leads from node `at`.
    fn entry(at: u32, byte: u8) -> usize {
        at as usize * 256 + usize::from(byte)
    }

    /// The node after `byte` at node `at`: one load once worked out.
    fn next(&mut self, nfa: &NFA, at: u32, byte: u8) -> Option<u32> {
        match self.by_byte[Self::entry(at, byte)] {
            BYTE_UNKNOWN | DEAD => self.child(nfa, at, byte),
            next => Some(u32::from(next)),
        }
    }

    /// The node after `byte` at node `at`, made on first sight.
    fn child(&mut self, nfa: &NFA, at: u32, byte: u8) -> Option<u32> {
        let node = &self.nodes[at as usize];
        let class = self.steps[node.step as usize].classes[usize::from(byte)];
        let child = match node.children[usize::from(class)] {
            UNKNOWN => {
                let step = self.advance(nfa, node.step, class)?;
                let child = self.node(step)?;
                self.nodes[at as usize].children[usize::from(class)] = child;
                child
            }
            child => child,
        };
        // A dead node's row stays marked for walks, which stop there.
        let index = Self::entry(at, byte);
        let entry = &mut self.by_byte[index];
        if *entry != DEAD {
            *entry = u16::try_from(child).expect("node numbers are below MAX_NODES");
        }
        Some(child)
    }

    /// A new trie node at `step` (`None`: trie full).
    fn node(&mut self, step: u32) -> Option<u32> {
        if self.nodes.len() >= MAX_NODES {
            return None;
        }
        let classes = self.steps[step as usize].representatives.len();
        let dead = self.steps[step as usize].states.is_empty();
        self.nodes.push(Node {
            step,
            children: vec![UNKNOWN; classes].into_boxed_slice(),
        });
        let bytes = if dead { DEAD } else { BYTE_UNKNOWN };
        self.by_byte.resize(self.nodes.len() * 256, bytes);
        Some((self.nodes.len() - 1) as u32)
    }

    /// The step texts start in.
    fn start(&mut self, nfa: &NFA, at_text_start: bool) -> Option<u32> {
        let start = usize::from(at_text_start);
        if let Some(at) = self.starts[start] {
            return Some(at);
        }
        let set = self.closure(nfa, [nfa.start_anchored()], at_text_start);
        let at = self.intern(nfa, set)?;
        self.starts[start] = Some(at);
        Some(at)
    }

    /// The step after reading a byte of `class` at step `at`.
    fn advance(&mut self, nfa: &NFA, at: u32, class: u8) -> Option<u32> {
        let step = &self.steps[at as usize];
        let known = step.next[usize::from(class)];
        if known != UNKNOWN {
            return Some(known);
        }
        let byte = step.representatives[usize::from(class)];
        let targets: Vec<StateID> = step
            .states
            .iter()
            .filter_map(|&id| transition(nfa.state(id), byte))
            .collect();
        let set = self.closure(nfa, targets, false);
        let next = self.intern(nfa, set)?;
        self.steps[at as usize].next[usize::from(class)] = next;
        Some(next)
    }

    /// The byte-reading and matching states reachable from `seeds` without
    /// reading a byte, sorted.
    fn closure(
        &mut self,
        nfa: &NFA,
        seeds: impl IntoIterator<Item = StateID>,
        at_text_start: bool,
    ) -> Vec<StateID> {
        self.seen.clear();
        self.seen.resize(nfa.states().len(), false);
        self.stack.clear();
        self.stack.extend(seeds);
        let mut set = Vec::new();
        while let Some(id) = self.stack.pop() {
            if std::mem::replace(&mut self.seen[id.as_usize()], true) {
                continue;
            }
            match nfa.state(id) {
                State::ByteRange { .. }
                | State::Sparse(_)
                | State::Dense(_)
                | State::Match { .. } => set.push(id),
                State::Union { alternates } => self.stack.extend(alternates.iter().copied()),
                State::BinaryUnion { alt1, alt2 } => self.stack.extend([*alt1, *alt2]),
                State::Capture { next, .. } => self.stack.push(*next),
                // `$` is never followed: it holds only after the last step.
                State::Look {
                    look: Look::Start,
                    next,
                } if at_text_start => self.stack.push(*next),
                State::Look { .. } | State::Fail => {}
            }
        }
        set.sort_unstable();
        set
    }

    /// The step of a state set, made on first sight (`None`: table full).
    fn intern(&mut self, nfa: &NFA, set: Vec<StateID>) -> Option<u32> {
        if let Some(&at) = self.index.get(set.as_slice()) {
            return Some(at);
        }
        if self.steps.len() >= MAX_STEPS {
            return None;
        }
        let mut split = [false; 256];
        for &id in &set {
            match nfa.state(id) {
                State::ByteRange { trans } => split_around(&mut split, trans.start, trans.end),
                State::Sparse(sparse) => {
                    for trans in sparse.transitions.iter() {
                        split_around(&mut split, trans.start, trans.end);
                    }
                }
                State::Dense(dense) => {
                    for (byte, pair) in dense.transitions.windows(2).enumerate() {
                        split[byte + 1] |= pair[0] != pair[1];
                    }
                }
                _ => {}
            }
        }
        let mut classes = [0u8; 256];
        let mut representatives = vec![0u8];
        for byte in 1..=255u8 {
            if split[usize::from(byte)] {
                representatives.push(byte);
            }
            classes[usize::from(byte)] = (representatives.len() - 1) as u8;
        }
        let at = self.steps.len() as u32;
        let states = set.into_boxed_slice();
        self.index.insert(states.clone(), at);
        self.steps.push(Step {
            states,
            classes,
            next: vec![UNKNOWN; representatives.len()],
            representatives,
        });
        Some(at)
    }
}

/// How many bytes `a` and `b` share at their start.
fn common_prefix(a: &[u8; TRAIL], b: &[u8; TRAIL]) -> usize {
    let differ = u128::from_le_bytes(*a) ^ u128::from_le_bytes(*b);
    (differ.trailing_zeros() / 8) as usize
}

/// Marks the class boundaries around `start..=end`.
fn split_around(split: &mut [bool; 256], start: u8, end: u8) {
    split[usize::from(start)] = true;
    if let Some(after) = split.get_mut(usize::from(end) + 1) {
        *after = true;
    }
}

/// Where `state` goes on `byte`, if it reads it.
fn transition(state: &State, byte: u8) -> Option<StateID> {
    match state {
        State::ByteRange { trans } => trans.matches_byte(byte).then_some(trans.next),
        State::Sparse(sparse) => sparse.matches_byte(byte),
        State::Dense(dense) => dense.matches_byte(byte),
        _ => None,
    }
}
