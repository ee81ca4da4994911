//! Errors that stop the engine itself (as opposed to a step failing, which
//! is a normal outcome of a run).

use tejun_locale::{Lang, Localize};
use tejun_runbook::plan::VarError;

use crate::refusal::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Refused before any step ran (exit 2).
    #[error("{0}")]
    Refused(Refusal),
    /// Variables could not be resolved (exit 2).
    #[error("{0}")]
    Vars(VarError),
    /// The journal could not be written: the run stops, since a step whose
    /// start is not durable must not run.
    #[error("{0}")]
    Journal(#[from] tejun_journal::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl EngineError {
    /// Bad input or a refusal, as opposed to a failure while running.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, EngineError::Refused(_) | EngineError::Vars(_))
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> EngineError {
        EngineError::Io {
            what: what.into(),
            source,
        }
    }
}

impl Localize for EngineError {
    fn localize(&self, lang: Lang) -> String {
        match self {
            EngineError::Refused(r) => r.localize(lang),
            EngineError::Vars(v) => v.localize(lang),
            EngineError::Journal(e) => format!(
                "{}: {e}",
                lang.pick(
                    "the journal could not be written; the run stopped",
                    "ジャーナルに書き込めないため実行を停止しました"
                )
            ),
            EngineError::Io { what, source } => format!("{what}: {source}"),
        }
    }
}
