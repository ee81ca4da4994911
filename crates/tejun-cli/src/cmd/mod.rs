//! One file per subcommand.

pub mod abort;
pub mod approve;
pub mod audit;
pub mod bans;
pub mod check;
pub mod collect;
pub mod collect_signals;
pub mod completions;
pub mod digest;
pub mod fleet;
pub mod incident;
pub mod plan;
pub mod report;
pub mod resume;
pub mod rollback;
pub mod run;
pub mod runs;
pub mod scan;
pub mod show;
pub mod stats;
pub mod unban;
pub mod watch;
