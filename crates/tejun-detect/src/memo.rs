//! Match results remembered by the shape of the text.
//!
//! regex-automata sorts the 256 byte values into classes that no transition
//! of a pattern's automaton tells apart (the lazy DFA's alphabet is made of
//! them). Two texts of the same length whose bytes fall, position by
//! position, in the same classes therefore take the same path through every
//! engine: same match, same group spans. Log lines come in few shapes — an
//! address or a port changes, and its digits share a class — so after the
//! first line of a shape, the capture search (microseconds per hit on
//! fail2ban's large patterns) becomes a table lookup. The result is exact,
//! not a guess: the differential tests compare both paths.
//!
//! A match found elsewhere (a date inside a line) is remembered by the
//! shape of its span and of the byte on either side, which is all its
//! groups depend on once the match itself is known (look-arounds read one
//! byte beyond a position).
//!
//! A pattern anchored at the start of a line (a syslog date) need not be
//! searched at all: its automaton is walked over the line until no state
//! is active, and the bytes read so far, class by class, are the key.
//!
//! One exception: a Unicode word boundary decodes the characters around it,
//! which their byte classes do not tell. Patterns that have one are
//! remembered on ASCII texts only.
//!
//! Texts of one shape cost a lookup; texts that never repeat cost the
//! lookup on top of the search, so the memo stops filling itself when it
//! rarely hits, and tries again later.

use regex_automata::util::alphabet::ByteClasses;
use regex_syntax::hir::{Class, Hir, HirKind, Look, Visitor};

use crate::matcher::FastMap;

mod steps;

pub use steps::{Automaton, Walk};

/// Byte span of one capture group (`None`: it did not take part).
pub type Slot = Option<(usize, usize)>;

/// The spans of every group of a `regex` match.
pub fn spans_of(caps: &regex::Captures<'_>) -> Box<[Slot]> {
    (0..caps.len())
        .map(|index| caps.get(index).map(|m| (m.start(), m.end())))
        .collect()
}

/// [`spans_of`] for a search made on `regex_automata` directly.
pub fn spans_of_captures(caps: &regex_automata::util::captures::Captures) -> Box<[Slot]> {
    (0..caps.group_len())
        .map(|index| caps.get_group(index).map(|m| (m.start, m.end)))
        .collect()
}

/// `slots` made relative to `start`.
fn shift(mut slots: Box<[Slot]>, start: usize) -> Box<[Slot]> {
    if start > 0 {
        for (from, to) in slots.iter_mut().flatten() {
            *from -= start;
            *to -= start;
        }
    }
    slots
}

/// Texts longer than this are always searched (keys would be large and the
/// shapes of long lines rarely repeat).
const MAX_TEXT: usize = 512;
/// Walks longer than this are searched instead: the pattern reads far into
/// its texts, whose keys would rarely repeat.
const MAX_WALK: usize = 64;
/// Shapes remembered per pattern and thread before the memo starts over.
const MAX_SHAPES: usize = 4096;
/// After a fill with fewer hits than this share of its lookups, the memo
/// stands aside for [`PAUSE`] lookups.
const MIN_HIT_RATE_DIVISOR: u64 = 8;
const PAUSE: u32 = 1 << 16;

/// How a pattern sees bytes: its byte classes.
#[derive(Debug, Clone)]
pub struct Shape {
    classes: ByteClasses,
    /// Set when the pattern has a Unicode word boundary.
    ascii_only: bool,
    /// Set by [`Shape::with_steps`]: matches are keyed step by step.
    automaton: Option<steps::Automaton>,
}

impl Shape {
    /// Byte classes for `pattern` (regex crate syntax and defaults), read
    /// from its syntax tree: every ASCII range, literal byte and
    /// look-around of the pattern splits the classes where the automaton's
    /// transitions do, and each non-ASCII byte is a class of its own. That
    /// partition is the automaton's or finer, so a text's shape still
    /// decides its result (`tests::classes_refine_the_automatons`), without
    /// compiling an automaton (up to ten million instructions for one of
    /// fail2ban's patterns). `None` if the pattern does not parse.
    pub fn of(pattern: &str) -> Option<Shape> {
        let hir = regex_syntax::parse(pattern).ok()?;
        regex_syntax::hir::visit(&hir, Boundaries::default()).ok()
    }

    /// Like [`Shape::of`], and a match found elsewhere
    /// ([`Memo::spans_of_match`]) is keyed by the classes its automaton
    /// tells apart at each step (see [`steps`]) when the pattern allows:
    /// many more dates share a key than share a shape. Costs compiling the
    /// automaton.
    pub fn with_steps(pattern: &str) -> Option<Shape> {
        let automaton = steps::Automaton::of(pattern);
        Shape::of(pattern).map(|shape| Shape { automaton, ..shape })
    }

    /// The byte classes of `pattern`'s compiled automaton: the reference
    /// [`Shape::of`] is tested against.
    #[cfg(test)]
    fn of_automaton(pattern: &str) -> Option<Shape> {
        let nfa = regex_automata::nfa::thompson::NFA::compiler()
            .configure(
                regex_automata::nfa::thompson::Config::new()
                    .nfa_size_limit(Some(64 << 20))
                    .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
            )
            .build(pattern)
            .ok()?;
        Some(Shape {
            classes: *nfa.byte_classes(),
            ascii_only: nfa.look_set_any().contains_word_unicode(),
            automaton: None,
        })
    }

    /// The automaton keys are walked on, if the shape has one.
    pub fn automaton(&self) -> Option<&Automaton> {
        self.automaton.as_ref()
    }

    fn applies_to(&self, hay: &str, len: usize) -> bool {
        len <= MAX_TEXT && (!self.ascii_only || hay.is_ascii())
    }
}

/// Where [`Shape::of`] splits the byte values: `split[b]` when `b - 1`
/// and `b` may be told apart.
struct Boundaries {
    split: [bool; 256],
    ascii_only: bool,
}

impl Default for Boundaries {
    fn default() -> Boundaries {
        let mut split = [false; 256];
        // Non-ASCII bytes: one class each (the pattern's UTF-8 sequences
        // are not worked out; finer classes are still exact).
        split[0x80..].fill(true);
        Boundaries {
            split,
            ascii_only: false,
        }
    }
}

impl Boundaries {
    fn range(&mut self, start: u8, end: u8) {
        self.split[usize::from(start)] = true;
        if let Some(after) = self.split.get_mut(usize::from(end) + 1) {
            *after = true;
        }
    }

    fn look(&mut self, look: Look) {
        match look {
            Look::Start | Look::End => {}
            Look::StartLF | Look::EndLF => self.range(b'\n', b'\n'),
            Look::StartCRLF | Look::EndCRLF => {
                self.range(b'\n', b'\n');
                self.range(b'\r', b'\r');
            }
            Look::WordAscii
            | Look::WordAsciiNegate
            | Look::WordStartAscii
            | Look::WordEndAscii
            | Look::WordStartHalfAscii
            | Look::WordEndHalfAscii => self.word_bytes(),
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode => {
                self.ascii_only = true;
                self.word_bytes();
            }
        }
    }

    fn word_bytes(&mut self) {
        for (start, end) in [(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')] {
            self.range(start, end);
        }
    }
}

impl Visitor for Boundaries {
    type Output = Shape;
    type Err = ();

    fn visit_pre(&mut self, hir: &Hir) -> Result<(), ()> {
        match hir.kind() {
            HirKind::Literal(literal) => {
                for &byte in literal.0.iter() {
                    self.range(byte, byte);
                }
            }
            HirKind::Class(Class::Unicode(class)) => {
                for range in class.ranges() {
                    let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                    if start < 0x80 {
                        self.range(start as u8, end.min(0x7f) as u8);
                    }
                }
            }
            HirKind::Class(Class::Bytes(class)) => {
                for range in class.ranges() {
                    self.range(range.start(), range.end());
                }
            }
            HirKind::Look(look) => self.look(*look),
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Shape, ()> {
        let mut classes = ByteClasses::empty();
        let mut class = 0u8;
        for byte in 1..=255u8 {
            if self.split[usize::from(byte)] {
                class += 1;
            }
            classes.set(byte, class);
        }
        Ok(Shape {
            classes,
            ascii_only: self.ascii_only,
            automaton: None,
        })
    }
}

/// One thread's remembered results for one pattern.
#[derive(Debug, Default)]
pub struct Memo {
    /// Shape → index into `results`.
    index: FastMap<Box<[u8]>, u32>,
    /// Group spans of the match (group 0 is the whole match), or `None`
    /// when the pattern does not match.
    results: Vec<Option<Box<[Slot]>>>,
    /// The current text's shape, and a result that was not kept.
    key: Vec<u8>,
    unkept: Option<Box<[Slot]>>,
    /// Steps of the shape's automaton, when it has one, and the result of
    /// each key (trie node) it walked to (`u32::MAX`: none yet).
    steps: steps::Steps,
    by_node: Vec<u32>,
    /// Result of each walk ([`Memo::spans_of_anchored`]), at `node * 2 +
    /// ended`.
    by_walk: Vec<u32>,
    /// Lookups left before walks are tried again (one was too long).
    walks_paused: u32,
    /// The last walk of [`Memo::spans_of_anchored`].
    last_walk: Walk,
    hits: u64,
    lookups: u64,
    paused: u32,
    /// Set by [`Memo::disabled`].
    disabled: bool,
}

impl Memo {
    /// A memo that always searches (the reference the tests compare with).
    pub fn disabled() -> Memo {
        Memo {
            disabled: true,
            ..Memo::default()
        }
    }

    /// The group spans of the match in `hay`: remembered when a text of the
    /// same shape was seen, else from `search` (and remembered).
    /// Without a shape (a pattern whose automaton has none), always
    /// searches.
    pub fn spans(
        &mut self,
        shape: Option<&Shape>,
        hay: &str,
        search: impl FnOnce() -> Option<Box<[Slot]>>,
    ) -> Option<&[Slot]> {
        self.lookup(shape, hay, (0, hay.len()), false, search)
    }

    /// The group spans of the match `found` already known to be the one
    /// `search` finds in `hay`, relative to the start of the match.
    pub fn spans_of_match(
        &mut self,
        shape: Option<&Shape>,
        hay: &str,
        found: (usize, usize),
        search: impl FnOnce() -> Option<Box<[Slot]>>,
    ) -> Option<&[Slot]> {
        self.lookup(shape, hay, found, true, search)
    }

    /// The spans of the match of a pattern anchored at the start of `hay`
    /// (`Some(None)`: no match), keyed by the walk of its automaton over
    /// the bytes it reads (see [`steps::Steps::walk`]): the search itself
    /// only runs for a walk not seen before. Dates at the start of a line
    /// read a dozen bytes, so this replaces a search and a key of the
    /// match. `None` when the text is not walked (no automaton, a walk too
    /// long or a full table): the caller takes its other path.
    pub fn spans_of_anchored(
        &mut self,
        automaton: Option<&Automaton>,
        hay: &str,
        search: impl FnOnce() -> Option<Box<[Slot]>>,
    ) -> Option<Option<&[Slot]>> {
        let automaton = automaton.filter(|_| !self.disabled)?;
        if self.walks_paused > 0 {
            self.walks_paused -= 1;
            return None;
        }
        let Some(walk) = self.steps.walk(automaton, hay.as_bytes(), MAX_WALK) else {
            self.walks_paused = PAUSE;
            return None;
        };
        self.last_walk = walk;
        self.lookups += 1;
        let slot = walk.node as usize * 2 + usize::from(walk.ended);
        if let Some(&at) = self.by_walk.get(slot).filter(|at| **at != u32::MAX) {
            self.hits += 1;
            return Some(self.results[at as usize].as_deref());
        }
        let at = self.remember(search());
        if self.by_walk.len() <= slot {
            self.by_walk.resize(slot + 1, u32::MAX);
        }
        self.by_walk[slot] = at;
        Some(self.results[at as usize].as_deref())
    }

    /// Where the last walk of [`Memo::spans_of_anchored`] stopped.
    pub fn last_walk(&self) -> Walk {
        self.last_walk
    }

    /// The node (see [`Steps::walk`](steps::Steps::walk)) a walk of
    /// [`Memo::spans_of_anchored`] is at after `text`, from the start or
    /// from node `at`: two texts that reach the same node and go on alike
    /// end their walks alike. `None` where the walk stops, or when this
    /// memo does not walk.
    #[inline]
    pub fn walk_node(
        &mut self,
        automaton: &Automaton,
        at: Option<u32>,
        text: &[u8],
    ) -> Option<u32> {
        if self.disabled {
            return None;
        }
        self.steps.walk_on(automaton, at, text)
    }

    /// Results are stored relative to `window.0`; `known_match` says the
    /// window is the match `search` finds.
    fn lookup(
        &mut self,
        shape: Option<&Shape>,
        hay: &str,
        (start, end): (usize, usize),
        known_match: bool,
        search: impl FnOnce() -> Option<Box<[Slot]>>,
    ) -> Option<&[Slot]> {
        let relative = || search().map(|slots| shift(slots, start));
        let shape = match shape {
            Some(shape)
                if !self.disabled && self.paused == 0 && shape.applies_to(hay, end - start) =>
            {
                shape
            }
            _ => {
                self.paused = self.paused.saturating_sub(1);
                self.unkept = relative();
                return self.unkept.as_deref();
            }
        };
        let bytes = hay.as_bytes();
        let flags = u8::from(start == 0) | u8::from(end == bytes.len()) << 1;
        self.lookups += 1;
        // A known match is keyed step by step where the automaton allows
        // (its look-arounds are `^` and `$`, so neighbours do not matter).
        // Otherwise, and when the step tables are full, by shape with the
        // neighbours. (Whole texts walked from the unanchored start cost
        // more than they saved on fail2ban's large patterns.)
        if known_match
            && let Some(automaton) = &shape.automaton
            && let Some(node) = self.steps.key(automaton, &bytes[start..end], flags)
        {
            let node = node as usize;
            if let Some(&at) = self.by_node.get(node).filter(|at| **at != u32::MAX) {
                self.hits += 1;
                return self.results[at as usize].as_deref();
            }
            let at = self.remember(relative());
            if self.by_node.len() <= node {
                self.by_node.resize(node + 1, u32::MAX);
            }
            self.by_node[node] = at;
            return self.results[at as usize].as_deref();
        }
        self.key.clear();
        self.key.push(flags);
        self.key.extend(
            bytes[start.saturating_sub(1)..(end + 1).min(bytes.len())]
                .iter()
                .map(|&byte| shape.classes.get(byte)),
        );
        if let Some(&at) = self.index.get(self.key.as_slice()) {
            self.hits += 1;
            return self.results[at as usize].as_deref();
        }
        let at = self.remember(relative());
        self.index.insert(self.key.as_slice().into(), at);
        self.results[at as usize].as_deref()
    }

    /// Keeps `result` and returns its index, starting over when full.
    fn remember(&mut self, result: Option<Box<[Slot]>>) -> u32 {
        if self.results.len() >= MAX_SHAPES {
            self.start_over();
        }
        self.results.push(result);
        (self.results.len() - 1) as u32
    }

    /// Forgets every shape; pauses first if they were rarely reused.
    fn start_over(&mut self) {
        if self.hits * MIN_HIT_RATE_DIVISOR < self.lookups {
            self.paused = PAUSE;
        }
        self.index.clear();
        self.by_node.clear();
        self.by_walk.clear();
        self.results.clear();
        self.hits = 0;
        self.lookups = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(re: &regex::Regex, hay: &str) -> Option<Box<[Slot]>> {
        re.captures(hay).as_ref().map(spans_of)
    }

    #[test]
    fn a_text_of_a_known_shape_is_not_searched_again() {
        let pattern = r"^Failed \S+ for (?P<user>\S+) from (?P<host>\d+\.\d+\.\d+\.\d+)";
        let re = regex::Regex::new(pattern).unwrap();
        let shape = Shape::of(pattern).unwrap();
        let mut memo = Memo::default();
        let first = "Failed password for root from 10.0.0.1";
        let same_shape = "Failed password for root from 10.9.8.7";
        let got = memo
            .spans(Some(&shape), first, || search(&re, first))
            .map(<[_]>::to_vec);
        assert_eq!(got, search(&re, first).map(|s| s.to_vec()));
        let again = memo.spans(Some(&shape), same_shape, || {
            panic!("searched a known shape")
        });
        assert_eq!(again, search(&re, same_shape).as_deref());
        // Another length is another shape.
        let longer = "Failed password for root from 10.0.0.12";
        let got = memo
            .spans(Some(&shape), longer, || search(&re, longer))
            .map(<[_]>::to_vec);
        assert_eq!(got.unwrap()[2], Some((30, 39)));
    }

    /// Runs `hays` in turn through a memo keyed by walks of `pattern` and
    /// checks each result against a fresh search; returns the memo.
    fn walks_agree<'h>(pattern: &str, hays: impl IntoIterator<Item = &'h str>) -> Memo {
        let re = regex::Regex::new(pattern).unwrap();
        let shape = Shape::with_steps(pattern).unwrap();
        let mut memo = Memo::default();
        for hay in hays {
            let got = memo
                .spans_of_anchored(shape.automaton(), hay, || search(&re, hay))
                .expect("walked")
                .map(<[_]>::to_vec);
            assert_eq!(got, search(&re, hay).map(|s| s.to_vec()), "{hay:?}");
        }
        memo
    }

    #[test]
    fn an_anchored_walk_tells_a_text_that_ends_from_one_that_goes_on() {
        // After `ab` no state is active, at the end of the text or not; only
        // at the end does `$` hold.
        let memo = walks_agree(r"^(?P<a>a)b$", ["ab", "abx", "ab", "abx", "a", "xab", "ab"]);
        assert!(memo.hits >= 3, "{} hits", memo.hits);
    }

    /// A walk resumes where its text parts from the last one, but no
    /// further than the last one went: `axaaaaaa` died at its third byte,
    /// so the nodes `aaaaaaaa` left after that are not its own.
    #[test]
    fn a_walk_resumes_no_further_than_the_last_one_went() {
        walks_agree(
            r"^(?P<a>a+)(?P<b>b*)(?:x|1+)?(?P<c>b)?$",
            ["aaaaaaaa", "axaaaaaa", "axaaaaaab", "aaaaaaaab", "aaaaaaaa"],
        );
    }

    #[test]
    fn an_anchored_date_is_read_from_the_bytes_its_pattern_reads() {
        let pattern = r"^(?P<b>[A-Z][a-z]{2}) +(?P<d>\d+) (?P<t>\d\d:\d\d:\d\d)(?: (?P<y>\d{4}))?";
        let lines = [
            "Nov  1 00:00:02 web1 sshd[1]: x",
            "Nov  1 00:00:04 web2 sshd[22]: y",
            "Nov 12 23:59:59 2026 web1 z",
            "Nov 12 23:59:58 20261 web1 z",
            "Nov  1 00:00:02",
            "nov  1 00:00:02 web1",
        ];
        let memo = walks_agree(pattern, lines.iter().chain(&lines).copied());
        assert!(memo.hits >= lines.len() as u64, "{} hits", memo.hits);
    }

    #[test]
    fn a_match_inside_a_line_is_remembered_with_its_neighbours() {
        let pattern = r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d+) (?P<time>\d\d:\d\d)\b";
        let re = regex::Regex::new(pattern).unwrap();
        let shape = Shape::of(pattern).unwrap();
        let mut memo = Memo::default();
        let mut relative = |hay: &str| remembered(&mut memo, &shape, &re, hay).unwrap();
        let first = relative("x Nov  1 00:00 web1");
        // Same shape, elsewhere in another line: found in the memo.
        assert_eq!(relative("ab Dec  2 13:45 other"), first);
        assert_eq!(first[2], Some((5, 6)));
        // A neighbour of another class is another shape (here: the line
        // start, which `^` or `\b` could see).
        assert_eq!(relative("Nov 12 00:00 web1")[2], Some((4, 6)));
        assert_eq!(memo.hits, 1);
    }

    /// Finds `hay`'s first match and its groups through `memo`.
    fn remembered(
        memo: &mut Memo,
        shape: &Shape,
        re: &regex::Regex,
        hay: &str,
    ) -> Option<Vec<Slot>> {
        let found = re.find(hay)?;
        let found = (found.start(), found.end());
        memo.spans_of_match(Some(shape), hay, found, || search(re, hay))
            .map(<[_]>::to_vec)
    }

    /// The same as `remembered`, searched afresh.
    fn fresh(re: &regex::Regex, hay: &str) -> Option<Vec<Slot>> {
        let start = re.find(hay)?.start();
        search(re, hay).map(|slots| shift(slots, start).to_vec())
    }

    const SYSLOG: &str = r"(?i)^(?:\W{0,2})?((?P<b>Jan|Feb|Nov) (?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]) ?(?P<H>2[0-3]|[0-1]?\d):(?P<M>[0-5]?\d):(?P<S>6[0-1]|[0-5]?\d))";

    #[test]
    fn dates_that_differ_where_no_step_looks_share_a_key() {
        let re = regex::Regex::new(SYSLOG).unwrap();
        let shape = Shape::with_steps(SYSLOG).unwrap();
        assert!(shape.automaton.is_some());
        let mut memo = Memo::default();
        for hay in [
            "Nov  1 00:00:02 a",
            "Nov  1 00:00:04 b",
            "Nov  1 00:51:48 c",
        ] {
            assert_eq!(
                remembered(&mut memo, &shape, &re, hay),
                fresh(&re, hay),
                "{hay}"
            );
        }
        // The global classes tell 2, 4 and 5 apart; the steps do not.
        assert_eq!(memo.hits, 2);
        // A 6 where the seconds start takes another branch (`6[0-1]`).
        let other = "Nov  1 00:00:60 d";
        assert_eq!(remembered(&mut memo, &shape, &re, other), fresh(&re, other));
        assert_eq!(memo.hits, 2);
    }

    #[test]
    fn look_arounds_other_than_text_anchors_are_not_walked() {
        assert!(Shape::with_steps(r"^a(b)").unwrap().automaton.is_some());
        assert!(Shape::with_steps(r"^a(b)$").unwrap().automaton.is_some());
        for pattern in [r"a\b", r"(?m)a$", r"(?m)^a", r"\Ba"] {
            assert!(
                Shape::with_steps(pattern).unwrap().automaton.is_none(),
                "{pattern}"
            );
        }
    }

    /// Text around dates of the default templates' kinds, digits and
    /// separators free, so most texts match and many share a key.
    const DATE_TEXT: &str = "[ \\[(a日]{0,2}((Jan|nov|Dec|Mon Nov) [ 0-3][0-9] [ 0-2]?[0-9]:[0-6]?[0-9]:[0-6][0-9]|(19|20)[0-9]{2}[-/.][01]?[0-9][-/.][0-3][0-9][ T] ?[0-2][0-9]:[0-6][0-9]:[0-6][0-9]|[0-3][0-9][-/][01][0-9][-/][0-9]{2,4} [0-2]?[0-9]:[0-6][0-9]:[0-6][0-9]|[0-9]{10}|@[0-9a-f]{24})[ .,0-9Z+:]{0,5}";

    proptest::proptest! {
        /// Every default date template, over texts made of the bytes they
        /// care about: the memo's answer is always the fresh search's.
        #[test]
        fn remembered_dates_match_a_fresh_search(
            template in 0usize..40,
            texts in proptest::collection::vec(DATE_TEXT, 1..40),
        ) {
            let templates = crate::DateDetector::defaults().templates;
            let source = templates[template % templates.len()].source();
            let re = regex::Regex::new(source).unwrap();
            let shape = Shape::with_steps(source).unwrap();
            proptest::prop_assume!(shape.automaton.is_some());
            let mut memo = Memo::default();
            for text in &texts {
                proptest::prop_assert_eq!(remembered(&mut memo, &shape, &re, text), fresh(&re, text), "{} on {:?}", source, text);
            }
        }

        /// A walk resumes where its text parts from the last one walked:
        /// texts sharing starts of every length, walks that died early or
        /// ran off the end, all read as a fresh search reads them.
        #[test]
        fn walks_resumed_from_the_last_text_match_a_fresh_search(
            texts in proptest::collection::vec("(a{0,7}[ab1x]?){1,3}", 1..40),
        ) {
            walks_agree(
                r"^(?P<a>a+)(?P<b>b*)(?:x|1+)?(?P<c>b)?$",
                texts.iter().map(String::as_str),
            );
        }
    }

    #[test]
    fn a_memo_that_rarely_hits_stands_aside() {
        let shape = Shape::of(r"x(\d+)").unwrap();
        let mut memo = Memo::default();
        // Every text a new shape: `n` in binary, written with `x` and `a`.
        for n in 0..=MAX_SHAPES {
            let hay: String = (0..13)
                .map(|bit| if n >> bit & 1 == 1 { 'x' } else { 'a' })
                .collect();
            memo.spans(Some(&shape), &hay, || None);
        }
        assert!(memo.paused > 0);
        assert!(memo.results.len() <= 1);
    }

    /// Bytes [`Shape::of`] puts in one class share the automaton's class
    /// too (classes are ranges, so neighbours suffice), and both agree on
    /// Unicode word boundaries.
    fn assert_refines(pattern: &str) {
        let (Some(fast), Some(reference)) = (Shape::of(pattern), Shape::of_automaton(pattern))
        else {
            return;
        };
        assert_eq!(fast.ascii_only, reference.ascii_only, "{pattern}");
        for byte in 1..=255u8 {
            if fast.classes.get(byte - 1) == fast.classes.get(byte) {
                assert_eq!(
                    reference.classes.get(byte - 1),
                    reference.classes.get(byte),
                    "{pattern}: {:#04x} and {byte:#04x}",
                    byte - 1
                );
            }
        }
    }

    #[test]
    fn classes_refine_the_automatons_on_every_debian_pattern() {
        let mut checked = 0;
        for template in &crate::DateDetector::defaults().templates {
            assert_refines(template.source());
            checked += 1;
        }
        let dir = std::path::Path::new("/etc/fail2ban/filter.d");
        let mut filters: Vec<_> = std::fs::read_dir(dir)
            .expect("apt-get install -y fail2ban")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        filters.sort();
        for filter in filters {
            let Ok(rules) = crate::RuleSet::from_fail2ban(&filter, None) else {
                continue;
            };
            for rule in &rules.rules {
                let patterns = rule.prefregex.iter();
                for pattern in patterns.chain(&rule.failregex).chain(&rule.ignoreregex) {
                    if let Some(source) = pattern.linear_source() {
                        assert_refines(source);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 200, "only {checked} patterns");
    }

    proptest::proptest! {
        #[test]
        fn classes_refine_the_automatons_on_generated_patterns(
            picks in proptest::collection::vec(0usize..TOKENS.len(), 1..12)
        ) {
            let pattern: String = picks.iter().map(|&i| TOKENS[i]).collect();
            assert_refines(&pattern);
        }
    }

    const TOKENS: &[&str] = &[
        "a",
        "Z",
        "é",
        "日",
        r"\d",
        r"\w",
        r"\s",
        r"\S",
        ".",
        "(?s:.)",
        "[^:]",
        "[a-f0-9]",
        r"(?i)k",
        r"(?-u:\xff)",
        r"(?-u:[\x80-\xfe])",
        "^",
        "$",
        "(?m:^)",
        "(?m:$)",
        "(?Rm:$)",
        r"\b",
        r"\B",
        r"(?-u:\b)",
        r"\<",
        r"\>",
        r"\b{start-half}",
        "(",
        ")",
        "|",
        "*",
        "+?",
        "{2}",
        "?",
    ];

    #[test]
    fn unicode_word_boundaries_are_remembered_on_ascii_texts_only() {
        let shape = Shape::of(r"\bé\b").unwrap();
        assert!(shape.applies_to("abc", 3));
        assert!(!shape.applies_to("aé", 1));
        assert!(Shape::of(r"(?-u:\b)x").unwrap().applies_to("aé", 1));
    }
}
