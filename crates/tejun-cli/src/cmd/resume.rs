//! `tejun resume RUN`: continue an interrupted (or paused) run from its
//! journal.
//!
//! Secret variables are never journaled, so a run that was given one with
//! `--var` cannot be continued from the journal alone. They are taken from
//! `--var` again, else asked for without echo on a terminal, else the
//! resume is refused before anything runs, naming each `--var` to add.

use tejun_engine::UnknownChoice;
use tejun_engine::history::{self, HistoryError};
use tejun_engine::resume::{
    MissingSecret, ResumeRequest, missing_secrets, prepare, prepare_rollback, resume,
};

use super::run::{
    engine_error, finish, is_interactive, load_inventory, local_engine, mode, parse_runbook,
};
use crate::context::{Context, Exit};
use crate::help_ja::ValueError;
use crate::notify::{Notifier, Notifying};
use crate::progress::Progress;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun resume 0k3m9q2a
  tejun resume 0k3m9q2a --on-unknown skip --yes
  tejun resume 0k3m9q2a --var db_password=... --confirm-env production

Finished steps never run again. A step that started but has no recorded end
is unknown: choose retry, skip or rollback (asked on a terminal, or
--on-unknown). Secret variables are never journaled: give them again with
--var, or type them when asked (input hidden). Refused (exit 2) before
anything runs when a secret is missing and there is no terminal to ask on,
when the runbook file changed since the run started, when the run already
ended, or while another process still runs it. A run waiting for approval
continues once enough people ran `tejun approve RUN` (exit 5 until then).
--on-unknown rollback also rolls back a run paused at a confirm step; to roll
back any other run use `tejun rollback RUN`. On a fleet, a retried step runs
again only on the hosts that had not finished it: a host that had failed it
keeps its failure (counted against max_fail_percentage, rolled back as the
rollout says) unless --retry-failed. A host that was unreachable when the run
started stays out. Exit codes as for `tejun run`.")]
pub struct Args {
    /// What to do with a step of unknown state when not asked interactively.
    #[arg(long, value_name = "retry|skip|rollback", value_parser = parse_choice)]
    pub on_unknown: Option<UnknownChoice>,
    /// Fleet: a retried step runs again on the hosts that had failed it before tejun stopped (by default they keep their failure).
    #[arg(long)]
    pub retry_failed: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The arguments `resume` and `rollback` share: which run, and what a
/// continued run needs again (secrets, confirmations).
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The run id (see `tejun runs`); a unique prefix is enough.
    pub run: String,
    /// Non-interactive: never prompt.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Secret variables are never journaled: give them again (else asked on a terminal).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::plan::parse_var)]
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

fn parse_choice(text: &str) -> Result<UnknownChoice, ValueError> {
    UnknownChoice::parse(text).ok_or_else(|| {
        ValueError::new(
            format!("expected retry, skip or rollback, got `{text}`"),
            format!(
                "retry、skip、rollback のいずれかを指定してください (`{text}` が指定されました)"
            ),
        )
    })
}

/// What `resume` and `rollback` do with a run.
pub(crate) enum Continue {
    /// Go on where it stopped (`tejun resume`), with `--retry-failed`.
    Resume(Option<UnknownChoice>, bool),
    /// Run its rollback plan (`tejun rollback`).
    Rollback,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    continue_run(
        args.run,
        Continue::Resume(args.on_unknown, args.retry_failed),
        ctx,
    )
}

/// A unique prefix of a run id (like git), or the text as given.
pub(crate) fn resolve(
    journal: &tejun_journal::Journal,
    run: &str,
    ctx: &Context,
) -> Result<String, Exit> {
    match history::resolve_run_id(journal, run) {
        Ok(id) => Ok(id),
        Err(HistoryError::Ambiguous { prefix, candidates }) => {
            ctx.error(
                &format!("run id `{prefix}` is ambiguous: {}", candidates.join(", ")),
                &format!(
                    "実行 ID `{prefix}` が複数に一致します: {}",
                    candidates.join(", ")
                ),
            );
            Err(Exit::BadInput)
        }
        Err(_) => Ok(run.to_string()),
    }
}

pub(crate) fn continue_run(args: RunArgs, how: Continue, ctx: &Context) -> Exit {
    let rollback = matches!(how, Continue::Rollback);
    let command = if rollback { "rollback" } else { "resume" };
    let journal = match super::audit::open_journal_to_append(ctx, command) {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    let run_id = match resolve(&journal, &args.run, ctx) {
        Ok(id) => id,
        Err(exit) => return exit,
    };
    let prepared = if rollback {
        prepare_rollback(&journal, &run_id)
    } else {
        prepare(&journal, &run_id)
    };
    let prepared = match prepared {
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
    // A fleet run continues on exactly the hosts it started with.
    let fleet = match super::fleet::reconnect(
        &runbook,
        inventory.as_ref(),
        &prepared.started.env,
        prepared.fleet.as_ref(),
        &prepared.pids,
        ctx,
    ) {
        Ok(fleet) => fleet,
        Err(exit) => return exit,
    };
    let interactive = is_interactive(args.yes);
    let mut vars = args.vars;
    if interactive {
        let lookup_env = |name: &str| std::env::var(name).ok();
        for secret in missing_secrets(&prepared, &runbook, &vars, &lookup_env) {
            if let Some(value) = ask_secret(&secret, ctx) {
                vars.push((secret.name, value));
            }
        }
    }
    // Anything still missing is refused by the engine, naming every
    // secret and the `--var` to add, before any step runs.
    let progress = Progress::new(mode(args.json), ctx.lang);
    let mut engine = match local_engine(&journal, &progress, ctx) {
        Ok(engine) => engine,
        Err(exit) => return exit,
    };
    if let Some(fleet) = &fleet {
        engine.target = &fleet.target;
    }
    let notifier = Notifier::start(inventory.as_ref(), ctx.journal_path(), ctx.lang);
    let notifying = notifier.as_ref().map(|notifier| Notifying {
        inner: &progress,
        notifier,
        runbook: runbook.name.clone(),
        env: prepared.started.env.clone(),
    });
    if let Some(notifying) = &notifying {
        engine.operator = notifying;
    }
    let request = ResumeRequest {
        runbook: &runbook,
        inventory: inventory.as_ref(),
        overrides: vars,
        on_unknown: match how {
            Continue::Resume(choice, _) => choice,
            Continue::Rollback => None,
        },
        retry_failed: matches!(how, Continue::Resume(_, true)),
        interactive,
        confirm_env: args.confirm_env,
        confirm_destructive: args.confirm_destructive,
    };
    let exit = finish(resume(&engine, prepared, request), ctx, args.json);
    drop(engine);
    drop(notifying);
    if let Some(notifier) = notifier {
        notifier.finish(ctx.lang);
    }
    super::audit::checkpoint_after_run(ctx, &journal);
    exit
}

/// Asks for one secret on the terminal without echoing it. `None` when
/// nothing was typed or the terminal cannot be read (the resume is then
/// refused with the `--var` to give).
fn ask_secret(secret: &MissingSecret, ctx: &Context) -> Option<String> {
    let name = &secret.name;
    let about = secret
        .description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let prompt = ctx.lang.pick(
        &format!("secret `{name}`{about} is not stored in the journal; type it (hidden): "),
        &format!("秘密変数 `{name}`{about} はジャーナルに保存されていません。入力してください (表示されません): "),
    ).to_string();
    match rpassword::prompt_password(prompt) {
        Ok(value) if !value.is_empty() => Some(value),
        Ok(_) => None,
        Err(e) => {
            ctx.error(
                &format!("cannot read `{name}` from the terminal: {e}"),
                &format!("端末から `{name}` を読み取れません: {e}"),
            );
            None
        }
    }
}
