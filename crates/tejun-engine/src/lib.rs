//! Executes runbook plans: phases, rollback, guards, backup/restore, and a
//! durable journal entry before and after every step so a run can resume
//! after `kill -9`. No terminal code: progress goes out through the
//! [`Operator`] trait the CLI implements.
//!
//! Entry points: [`run`] for a new run, [`resume::prepare`] then
//! [`resume::resume`] for an interrupted one.

pub mod abort;
pub mod approval;
pub mod backup;
pub mod capture;
pub mod error;
pub mod events;
pub mod fleet;
pub mod guard;
pub mod history;
pub mod identity;
mod live;
pub mod logoff;
pub mod operator;
pub mod orphan;
pub mod probe;
pub mod reason;
mod recorder;
pub mod refusal;
pub mod replay;
pub mod resume;
pub mod runid;
pub mod runner;
mod start;
pub mod target;

pub use abort::AbortSignal;
pub use error::EngineError;
pub use operator::{Answer, Operator, RunEvent, UnknownChoice};
pub use refusal::Refusal;
pub use runner::Finish;
pub use start::{Engine, Report, RunRequest, run};
pub use target::{LocalTarget, Target};
