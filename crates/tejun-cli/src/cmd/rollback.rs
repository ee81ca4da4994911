//! `tejun rollback RUN`: run the recorded rollback plan of a paused,
//! interrupted, failed or succeeded run, then its exit phase.
//!
//! Guarded like `run` (the environment guard runs again in full),
//! journaled on the run's own stream, refused when the runbook file
//! changed since the run started, when the run was already rolled back,
//! when its runbook has no rollback plan, or while another process runs
//! it.

use super::resume::{Continue, continue_run};
use super::run::parse_var;
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
    /// The run id (see `tejun runs`); a unique prefix is enough.
    pub run: String,
    /// Non-interactive: never prompt.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Secret variables are never journaled: give them again (else asked on a terminal).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Confirm a protected environment without the typed prompt.
    #[arg(long, value_name = "NAME")]
    pub confirm_env: Option<String>,
    /// Allow destructive steps in a protected environment.
    #[arg(long)]
    pub confirm_destructive: bool,
    /// One JSON event per line on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    continue_run(
        Continue {
            run: args.run,
            on_unknown: None,
            yes: args.yes,
            vars: args.vars,
            confirm_env: args.confirm_env,
            confirm_destructive: args.confirm_destructive,
            json: args.json,
            rollback: true,
        },
        ctx,
    )
}
