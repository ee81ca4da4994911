//! `tejun resume RUN`: continue an interrupted (or paused) run from its
//! journal.

use tejun_engine::UnknownChoice;
use tejun_engine::history::{self, HistoryError};
use tejun_engine::resume::{ResumeRequest, prepare, resume};

use super::run::{
    engine_error, finish, is_interactive, load_inventory, local_engine, mode, open_journal,
    parse_runbook, parse_var,
};
use crate::context::{Context, Exit};
use crate::progress::Progress;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun resume 0k3m9q2a
  tejun resume 0k3m9q2a --on-unknown skip --yes
  tejun resume 0k3m9q2a --var db_password=... --confirm-env production

Finished steps never run again. A step that started but has no recorded end
is unknown: choose retry, skip or rollback (asked on a terminal, or
--on-unknown). Refused (exit 2) when the runbook file changed since the run
started, when the run already ended, or while another process still runs it.")]
pub struct Args {
    /// The run id (see `tejun runs`).
    pub run: String,
    /// What to do with a step of unknown state when not asked interactively.
    #[arg(long, value_name = "retry|skip|rollback", value_parser = parse_choice)]
    pub on_unknown: Option<UnknownChoice>,
    /// Non-interactive: never prompt.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Secret variables are never journaled: give them again.
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

fn parse_choice(text: &str) -> Result<UnknownChoice, String> {
    UnknownChoice::parse(text)
        .ok_or_else(|| format!("expected retry, skip or rollback, got `{text}`"))
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Some((journal, _)) = open_journal(ctx) else {
        return Exit::Failed;
    };
    // Like git, a unique prefix of the run id is enough.
    let run_id = match history::resolve_run_id(&journal, &args.run) {
        Ok(id) => id,
        Err(HistoryError::Ambiguous { prefix, candidates }) => {
            ctx.error(
                &format!("run id `{prefix}` is ambiguous: {}", candidates.join(", ")),
                &format!(
                    "実行 ID `{prefix}` が複数に一致します: {}",
                    candidates.join(", ")
                ),
            );
            return Exit::BadInput;
        }
        Err(_) => args.run.clone(),
    };
    let prepared = match prepare(&journal, &run_id) {
        Ok(prepared) => prepared,
        Err(e) => return engine_error(&e, ctx),
    };
    let file = prepared.started.path.clone();
    let Some(runbook) = parse_runbook(&prepared.source, &file, ctx) else {
        return Exit::BadInput;
    };
    let inventory = match load_inventory(ctx, std::path::Path::new(&file)) {
        Ok(inventory) => inventory,
        Err(exit) => return exit,
    };
    let progress = Progress::new(mode(args.json), ctx.lang);
    let engine = match local_engine(&journal, &progress, ctx) {
        Ok(engine) => engine,
        Err(exit) => return exit,
    };
    let request = ResumeRequest {
        runbook: &runbook,
        inventory: inventory.as_ref(),
        overrides: args.vars,
        on_unknown: args.on_unknown,
        interactive: is_interactive(args.yes),
        confirm_env: args.confirm_env,
        confirm_destructive: args.confirm_destructive,
    };
    finish(resume(&engine, prepared, request), ctx, args.json)
}
