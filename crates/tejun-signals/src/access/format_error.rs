//! A format string that cannot be compiled, located in the text the user
//! gave.

use tejun_locale::Lang;

/// Where (line and column from 1, columns in characters) and why a format
/// string does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub column: usize,
    en: String,
    ja: String,
}

impl FormatError {
    /// `offset` is a byte offset into `source`.
    pub(crate) fn at(source: &str, offset: usize, en: String, ja: String) -> FormatError {
        let offset = offset.min(source.len());
        let before = &source[..floor_char_boundary(source, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let column = before[line_start..].chars().count() + 1;
        FormatError {
            line,
            column,
            en,
            ja,
        }
    }

    /// An error at a known place.
    pub fn new(line: usize, column: usize, en: String, ja: String) -> FormatError {
        FormatError {
            line,
            column,
            en,
            ja,
        }
    }

    pub fn message(&self, lang: Lang) -> &str {
        lang.pick(&self.en, &self.ja)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.en)
    }
}

impl std::error::Error for FormatError {}
