//! A running command's output for the operator, as it arrives: cut into
//! lines and redacted like the journal's tails, so a secret is never shown
//! (a secret cannot straddle a cut: an over-long line is dropped from the
//! screen, not split).

use std::cell::RefCell;

use tejun_runbook::plan::redact;

use crate::operator::Operator;

/// Longest line shown; the rest of a longer one is left out.
const MAX_LINE: usize = 64 * 1024;

pub(crate) struct Lines<'a> {
    operator: &'a dyn Operator,
    secrets: &'a [String],
    partial: RefCell<Vec<u8>>,
    /// The current line grew past [`MAX_LINE`]: skip to its end.
    skipping: RefCell<bool>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(operator: &'a dyn Operator, secrets: &'a [String]) -> Lines<'a> {
        Lines {
            operator,
            secrets,
            partial: RefCell::new(Vec::new()),
            skipping: RefCell::new(false),
        }
    }

    pub(crate) fn push(&self, bytes: &[u8]) {
        let mut partial = self.partial.borrow_mut();
        let mut skipping = self.skipping.borrow_mut();
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            let ends = chunk.last() == Some(&b'\n');
            if !*skipping {
                partial.extend_from_slice(chunk);
            }
            if ends {
                if !*skipping {
                    partial.pop();
                    self.show(&partial);
                } else {
                    self.operator.on_output("…");
                }
                partial.clear();
                *skipping = false;
            } else if partial.len() > MAX_LINE {
                partial.clear();
                *skipping = true;
            }
        }
    }

    /// The last line, if the output did not end with a newline.
    pub(crate) fn finish(&self) {
        let partial = std::mem::take(&mut *self.partial.borrow_mut());
        if !partial.is_empty() {
            self.show(&partial);
        }
    }

    fn show(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        self.operator
            .on_output(&redact(text.trim_end_matches('\r'), self.secrets));
    }
}
