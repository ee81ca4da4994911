//! `tejun rollback RUN`: run the recorded rollback plan of a paused,
//! interrupted, failed or succeeded run, then its exit phase.
//!
//! Guarded like `run` (the environment guard runs again in full),
//! journaled on the run's own stream, refused when the runbook file
//! changed since the run started, when the run was already rolled back,
//! when its runbook has no rollback plan, or while another process runs
//! it.

use super::resume::{Continue, RunArgs, continue_run};
use crate::context::{Context, Exit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun rollback 0k3m9q2a
  tejun rollback 0k3m9q2a --yes --confirm-env production

The whole rollback plan runs (restores are idempotent), then the exit phase.
This is the command a second Ctrl-C prints. Refused (exit 2) when the runbook
file changed since the run started, when the run was already rolled back, when
the runbook has no rollback plan, or while another process still runs it.
Exit codes as for `tejun run`: 3 rolled back, 4 rollback failed or left
uncleanly, 5 paused at a rollback question, 130 stopped.")]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    continue_run(args.run, Continue::Rollback, ctx)
}
