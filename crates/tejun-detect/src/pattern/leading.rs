//! Which leading part a text starts with, remembered by the bytes that
//! decided it.
//!
//! The prefilter's automaton ([`super::Prefilter`]) stops a few words into
//! a line, where no leading part can match any more, and its answer
//! depends on those bytes alone. A log repeats a few message starts
//! ("Failed password for ", "Connection closed by "), so the automaton
//! read the same bytes line after line, missing the cache on its large
//! transition table: a tenth of a scan's time. Here each answer is kept
//! with the bytes it read, and a later text starting with them gets it
//! from one comparison.
//!
//! Texts whose answers do not repeat (the automaton reads to a varying
//! point) would only add comparisons, so remembering stops for good when
//! most lookups miss.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};

/// Answers kept per first byte: enough for the message starts of one
/// program and the first letters of its user names; more would be a
/// longer walk on every miss.
const PER_BYTE: usize = 16;
/// Answers read from longer texts than this are not kept: they depend on
/// words too far into the line to repeat.
const LONGEST: usize = 64;
/// Lookups after which the hit rate is judged.
const TRIAL: u32 = 4096;

/// The first pattern whose leading part matches the start of a text
/// (`None`: none does), or `Err` where the automaton gave up (a Unicode
/// word boundary next to a non-ASCII byte).
pub type First = Result<Option<usize>, ()>;

/// One remembered answer.
#[derive(Debug)]
struct Answer {
    /// The bytes the automaton read.
    read: Box<[u8]>,
    /// The last 8 of them (when there are 8): answers of one first byte
    /// mostly share their start ("Failed password for ro", "…for ad"), so
    /// comparing the end first turns the others down in one step.
    end: Option<u64>,
    /// Whether it read to the end of the text: then only the same text
    /// gets the same answer, not a longer one.
    whole: bool,
    first: Option<usize>,
}

/// The 8 bytes of `text` that end at `end`, if it has them.
fn eight_before(text: &[u8], end: usize) -> Option<u64> {
    let bytes = text.get(end.checked_sub(8)?..end)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

impl Answer {
    fn new(read: &[u8], whole: bool, first: Option<usize>) -> Answer {
        Answer {
            end: eight_before(read, read.len()),
            read: read.into(),
            whole,
            first,
        }
    }

    fn answers(&self, text: &[u8]) -> bool {
        let len = self.read.len();
        if text.len() < len || (self.whole && text.len() > len) {
            return false;
        }
        if self.end.is_some() && eight_before(text, len) != self.end {
            return false;
        }
        text.starts_with(&self.read)
    }
}

/// Remembered answers of one thread, by first byte of the text.
#[derive(Debug)]
pub struct Remembered {
    by_first_byte: Vec<Vec<Answer>>,
    lookups: u32,
    hits: u32,
    /// Set once most lookups missed: the automaton alone from then on.
    off: bool,
}

impl Default for Remembered {
    fn default() -> Remembered {
        Remembered {
            by_first_byte: (0..256).map(|_| Vec::new()).collect(),
            lookups: 0,
            hits: 0,
            off: false,
        }
    }
}

impl Remembered {
    /// The first leading part `text` starts with, per `dfa` (anchored,
    /// leftmost-first, one pattern per leading part).
    pub fn first(&mut self, dfa: &DFA, cache: &mut Cache, text: &str) -> First {
        let text = text.as_bytes();
        let Some(&byte) = text.first().filter(|_| !self.off) else {
            return search(dfa, cache, text);
        };
        self.lookups = self.lookups.saturating_add(1);
        if self.lookups == TRIAL && self.hits < TRIAL / 2 {
            self.off = true;
            self.by_first_byte = Vec::new();
            return search(dfa, cache, text);
        }
        let answers = &mut self.by_first_byte[usize::from(byte)];
        if let Some(at) = answers.iter().position(|a| a.answers(text)) {
            self.hits = self.hits.saturating_add(1);
            let first = answers[at].first;
            // Frequent answers move to the front, one step per hit.
            if at > 0 {
                answers.swap(at, at - 1);
            }
            return Ok(first);
        }
        let (first, read) = walk(dfa, cache, text)?;
        let whole = read == text.len();
        if read <= LONGEST && answers.len() < PER_BYTE {
            answers.push(Answer::new(&text[..read], whole, first));
        }
        Ok(first)
    }
}

/// [`Remembered::first`] by the automaton's own search loop: fastest when
/// nothing is to be remembered.
fn search(dfa: &DFA, cache: &mut Cache, text: &[u8]) -> First {
    let input = Input::new(text).anchored(Anchored::Yes);
    match dfa.try_search_fwd(cache, &input) {
        Ok(found) => Ok(found.map(|m| m.pattern().as_usize())),
        Err(_) => Err(()),
    }
}

/// The answer and how many bytes of `text` decided it (all of them when
/// the automaton was still going at the end). Byte by byte, as the
/// search loop steps, but stopping where it stops.
fn walk(dfa: &DFA, cache: &mut Cache, text: &[u8]) -> Result<(Option<usize>, usize), ()> {
    let input = Input::new(text).anchored(Anchored::Yes);
    let mut state = dfa.start_state_forward(cache, &input).map_err(drop)?;
    let mut first = None;
    for (at, &byte) in text.iter().enumerate() {
        state = dfa.next_state(cache, state, byte).map_err(drop)?;
        if state.is_tagged() {
            if state.is_match() {
                // Matches show one byte late: a pattern matched up to
                // `at`. Leftmost-first: a later match is one preferred.
                first = Some(dfa.match_pattern(cache, state, 0).as_usize());
            } else if state.is_dead() {
                return Ok((first, at + 1));
            } else if state.is_quit() {
                return Err(());
            }
        }
    }
    state = dfa.next_eoi_state(cache, state).map_err(drop)?;
    if state.is_match() {
        first = Some(dfa.match_pattern(cache, state, 0).as_usize());
    }
    Ok((first, text.len()))
}

#[cfg(test)]
mod tests {
    use regex_automata::MatchKind;

    use super::*;

    fn dfa(patterns: &[&str]) -> DFA {
        DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    .unicode_word_boundary(true),
            )
            .build_many(patterns)
            .unwrap()
    }

    proptest::proptest! {
        /// Remembered or walked, the answer is the automaton's own search
        /// result, for texts that share starts and texts that end early.
        #[test]
        fn remembered_answers_are_the_searched_ones(
            texts in proptest::collection::vec(
                "(Failed |Failed password |Accepted |Connection |a|é)?[a-z ]{0,12}( |é|!)?",
                1..80,
            )
        ) {
            let dfa = dfa(&[
                r"^Failed \S+ for",
                r"^Accepted \w+",
                r"^Failed",
                r"^Connection (?:closed|reset)\b",
                r"^a\b",
            ]);
            let mut cache = dfa.create_cache();
            let mut remembered = Remembered::default();
            for text in &texts {
                let want = search(&dfa, &mut cache, text.as_bytes());
                let got = remembered.first(&dfa, &mut cache, text);
                proptest::prop_assert_eq!(got, want, "{:?}", text);
            }
        }
    }

    /// A text that ends inside a remembered answer's bytes, or goes on
    /// past an answer read to the end of its text, is searched afresh.
    #[test]
    fn an_answer_read_to_the_end_serves_that_text_only() {
        let dfa = dfa(&[r"^Failed \S+ for", r"^Failed"]);
        let mut cache = dfa.create_cache();
        let mut remembered = Remembered::default();
        assert_eq!(
            remembered.first(&dfa, &mut cache, "Failed pass"),
            Ok(Some(1))
        );
        assert_eq!(
            remembered.first(&dfa, &mut cache, "Failed password for root"),
            Ok(Some(0))
        );
        assert_eq!(
            remembered.first(&dfa, &mut cache, "Failed pass"),
            Ok(Some(1))
        );
        assert_eq!(remembered.first(&dfa, &mut cache, "Fail"), Ok(None));
        assert_eq!(remembered.hits, 1);
    }

    /// When most lookups miss, remembering stops and answers still come.
    #[test]
    fn remembering_stops_when_it_does_not_pay() {
        let dfa = dfa(&[r"^x\d+y", r"^x"]);
        let mut cache = dfa.create_cache();
        let mut remembered = Remembered::default();
        for n in 0..2 * TRIAL {
            let text = format!("x{n}z");
            assert_eq!(remembered.first(&dfa, &mut cache, &text), Ok(Some(1)));
        }
        assert!(remembered.off);
    }
}
