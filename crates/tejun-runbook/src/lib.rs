//! The runbook and inventory formats: parse, validate and plan.
//!
//! This crate does no I/O. It takes source text and returns either a
//! validated model or errors that point at file:line:col, so that `tejun
//! check` can be exact and the parsers can be fuzzed in isolation. Reading
//! files, running commands and writing the journal belong to the engine and
//! the CLI.

pub mod command;
pub mod diagnostics;
pub mod duration;
pub mod fleet;
pub mod include;
pub mod inventory;
pub mod model;
pub mod notify;
pub mod plan;
pub mod runbook;
pub mod shell;
pub mod template;
pub mod vartype;
mod walk;
pub mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics, ErrorKind};
pub use inventory::{
    Environment, EscalationKind, EscalationRule, IncidentSettings, Inventory, parse_inventory,
};
pub use runbook::{
    Read, check_against_inventory, check_overrides, decode_source, parse_runbook,
    parse_runbook_with, read_runbook,
};
/// Re-exported so callers rendering diagnostics need not depend on the
/// locale crate themselves.
pub use tejun_locale::Lang;
