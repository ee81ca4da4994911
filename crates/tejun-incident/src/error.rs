//! Errors that carry their message in both languages.
//!
//! Most failures here are the operator's input (an unknown id, a transition
//! the state machine refuses, a time that does not parse). Those are
//! [`Error::Input`] and the CLI maps them to exit code 2; everything else is
//! the journal or the file system.

use tejun_locale::{Lang, Localize};

/// A message written in English and Japanese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub en: String,
    pub ja: String,
}

impl Message {
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Message {
        Message {
            en: en.into(),
            ja: ja.into(),
        }
    }
}

impl Localize for Message {
    fn localize(&self, lang: Lang) -> String {
        lang.pick(&self.en, &self.ja).to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the operator: nothing was written.
    #[error("{}", .0.en)]
    Input(Message),
    #[error(transparent)]
    Journal(#[from] tejun_journal::Error),
    /// The file system, a catalogue file or a bundle.
    #[error("{}", .0.en)]
    Io(Message),
}

impl Error {
    pub fn input(en: impl Into<String>, ja: impl Into<String>) -> Error {
        Error::Input(Message::new(en, ja))
    }

    pub fn io(en: impl Into<String>, ja: impl Into<String>) -> Error {
        Error::Io(Message::new(en, ja))
    }

    /// True when the operator's input was at fault (exit code 2).
    pub fn is_input(&self) -> bool {
        matches!(self, Error::Input(_))
    }
}

impl Localize for Error {
    fn localize(&self, lang: Lang) -> String {
        match self {
            Error::Input(message) | Error::Io(message) => message.localize(lang),
            Error::Journal(err) => err.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
