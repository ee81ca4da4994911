//! `tejun run FILE --env ENV`: guard, execute, journal, show the outcome.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tejun_runbook::include::FileIncludes;

use crate::notify::{Notifier, Notifying};

use tejun_engine::events::Outcome;
use tejun_engine::{AbortSignal, Engine, EngineError, Finish, LocalTarget, Report, RunRequest};
use tejun_journal::Journal;
use tejun_locale::Localize;
use tejun_runbook::model::Runbook;
use tejun_runbook::{Inventory, parse_inventory};

use crate::context::{Context, Exit};
use crate::output::outln;
use crate::progress::{Mode, Progress, outcome_line};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun run examples/quickstart.yaml --env dev
  tejun run change.yaml --env staging --var upstream=10.0.0.7:8080
  tejun run change.yaml --env production --confirm-env production --yes
  tejun run change.yaml --env staging --incident INC-42 --json

Exit codes:
  0    succeeded
  1    failed (a pre step, or an execute/post step with no rollback plan)
  2    bad input or refused (guard, inventory, approval refused)
  3    rolled back
  4    rollback failed, or left uncleanly (an exit step failed): look now
  5    paused: waiting for a person (tejun resume RUN) or an approval (tejun approve RUN)
  130  aborted (Ctrl-C, SIGTERM)
The exit phase runs after every outcome. Ctrl-C at a prompt or during a
command aborts: the command is stopped, the rollback plan runs, then the exit
phase. During rollback and the exit phase a first Ctrl-C is only noted; a
second one stops waiting and prints the command that rolls back
(tejun rollback RUN).")]
pub struct Args {
    /// The runbook file.
    pub file: PathBuf,
    /// The environment to run in; must be one the runbook names and the inventory defines.
    #[arg(long)]
    pub env: String,
    /// Set a runbook variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::plan::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Non-interactive: never prompt; confirm steps without `auto:` pause the run.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Confirm a protected environment without the typed prompt (must equal --env).
    #[arg(long, value_name = "NAME")]
    pub confirm_env: Option<String>,
    /// Allow destructive steps in a protected environment without typing each step id.
    #[arg(long)]
    pub confirm_destructive: bool,
    /// Attach the run to an incident (its events get `incident/ID` refs).
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// One JSON event per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only these hosts of the runbook's `hosts:` (comma-separated).
    #[arg(long, value_name = "HOST,...")]
    pub limit: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Some((source, runbook)) = load_runbook(&args.file, ctx) else {
        return Exit::BadInput;
    };
    let inventory = match load_inventory(ctx, &args.file) {
        Ok(inventory) => inventory,
        Err(exit) => return exit,
    };
    let journal = match super::audit::open_journal_to_append(ctx, "run") {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    let attach_active = inventory
        .as_ref()
        .is_some_and(|inv| inv.incidents.attach_active_runs);
    let incident = match super::incident::incident_for_run(
        ctx,
        &journal,
        args.incident,
        attach_active,
        &args.env,
    ) {
        Ok(incident) => incident,
        Err(exit) => return exit,
    };
    let interactive = is_interactive(args.yes);
    let progress = Progress::new(mode(args.json), ctx.lang);
    let fleet = match super::fleet::connect(
        &runbook,
        inventory.as_ref(),
        &args.env,
        args.limit.as_deref(),
        None,
        ctx,
    ) {
        Ok(fleet) => fleet,
        Err(exit) => return exit,
    };
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
        env: args.env.clone(),
    });
    if let Some(notifying) = &notifying {
        engine.operator = notifying;
    }
    let request = RunRequest {
        runbook_path: &args.file,
        source: &source,
        runbook: &runbook,
        inventory: inventory.as_ref(),
        env: &args.env,
        overrides: args.vars,
        incident,
        interactive,
        confirm_env: args.confirm_env,
        confirm_destructive: args.confirm_destructive,
        runs_dir: runs_dir(ctx),
    };
    let exit = finish(tejun_engine::run(&engine, request), ctx, args.json);
    drop(engine);
    drop(notifying);
    if let Some(notifier) = notifier {
        notifier.finish(ctx.lang);
    }
    super::audit::checkpoint_after_run(ctx, &journal);
    exit
}

pub(crate) fn mode(json: bool) -> Mode {
    if json {
        Mode::Json
    } else if std::io::stderr().is_terminal() {
        Mode::Spinner
    } else {
        Mode::Plain
    }
}

/// Prompts need a person at a terminal and no `--yes`.
pub(crate) fn is_interactive(yes: bool) -> bool {
    !yes && std::io::stdin().is_terminal()
}

/// Reports the run's end and maps it to the exit code.
pub(crate) fn finish(result: Result<Report, EngineError>, ctx: &Context, json: bool) -> Exit {
    match result {
        Ok(report) => match report.finish {
            Finish::Ended(outcome) => {
                if !json {
                    print_changed_files(&report.run_id, ctx);
                    outln!(
                        "{}  ({} {})",
                        outcome_line(outcome, ctx.lang),
                        ctx.lang.pick("run", "実行"),
                        report.run_id
                    );
                }
                outcome_exit(outcome)
            }
            Finish::LeftUncleanly {
                outcome,
                failed_steps,
            } => {
                if !json {
                    outln!(
                        "{}  ({} {})",
                        outcome_line(outcome, ctx.lang),
                        ctx.lang.pick("run", "実行"),
                        report.run_id
                    );
                    outln!("{}", uncleanly_line(&failed_steps, ctx.lang));
                }
                Exit::Uncleanly
            }
            Finish::Paused { .. } => Exit::Paused,
            Finish::AwaitingApproval { needed, have } => {
                if !json {
                    let id = &report.run_id;
                    let style = anstyle::AnsiColor::Yellow.on_default().bold();
                    outln!(
                        "{style}■ {}{style:#}",
                        ctx.lang.pick(
                            &format!(
                                "WAITING FOR APPROVAL ({have} of {needed}): someone other than you runs `tejun approve {id}`; then `tejun resume {id}`"
                            ),
                            &format!(
                                "承認待ち ({have}/{needed}): 実行者以外の人が `tejun approve {id}` を実行したあと `tejun resume {id}` で続行します"
                            ),
                        )
                    );
                }
                Exit::Paused
            }
            Finish::Stopped { .. } => Exit::Aborted,
        },
        Err(e) => engine_error(&e, ctx),
    }
}

/// The exit code of a run that ended with a clean exit phase.
fn outcome_exit(outcome: Outcome) -> Exit {
    match outcome {
        Outcome::Succeeded => Exit::Ok,
        Outcome::Failed => Exit::Failed,
        Outcome::RolledBack => Exit::RolledBack,
        Outcome::RollbackFailed => Exit::Uncleanly,
        Outcome::Aborted => Exit::Aborted,
    }
}

/// The loud second line of a run whose exit phase failed.
fn uncleanly_line(failed_steps: &[String], lang: tejun_locale::Lang) -> String {
    let style = anstyle::AnsiColor::Red.on_default().bold();
    let steps = failed_steps.join(", ");
    format!(
        "{style}■ {}{style:#}",
        lang.pick(
            &format!("LEFT UNCLEANLY — exit phase failed: {steps}; clean up by hand"),
            &format!("後始末が未完了 — 終了フェーズが失敗: {steps}。手動で片付けてください"),
        )
    )
}

/// Prints an engine error in the operator's language: bad input (a refusal,
/// an unknown run) exits 2, anything else 1.
pub(crate) fn engine_error(e: &EngineError, ctx: &Context) -> Exit {
    ctx.error(
        &e.localize(tejun_locale::Lang::En),
        &e.localize(tejun_locale::Lang::Ja),
    );
    if e.is_bad_input() {
        Exit::BadInput
    } else {
        Exit::Failed
    }
}

/// The engine for a run on this machine, reporting through `progress`.
/// Ctrl-C and SIGTERM stop the run between steps (and the running command)
/// instead of killing tejun mid-write.
pub(crate) fn local_engine<'a>(
    journal: &'a Journal,
    progress: &'a Progress,
    ctx: &Context,
) -> Result<Engine<'a>, Exit> {
    let abort = AbortSignal::from_signals().map_err(|e| {
        ctx.error(
            &format!("cannot handle signals: {e}"),
            &format!("シグナルを処理できません: {e}"),
        );
        Exit::Failed
    })?;
    progress.watch(&abort);
    Ok(Engine {
        journal,
        operator: progress,
        target: &LocalTarget,
        abort,
    })
}

/// Reads and validates a runbook; prints every diagnostic on failure.
pub(crate) fn load_runbook(path: &Path, ctx: &Context) -> Option<(String, Runbook)> {
    let source = match std::fs::read(path) {
        Ok(bytes) => match tejun_runbook::decode_source(bytes, &path.display().to_string()) {
            Ok(source) => source,
            Err((text, diagnostics)) => {
                anstream::eprint!("{}", diagnostics.render(&text, ctx.lang, true));
                return None;
            }
        },
        Err(e) => {
            ctx.error(
                &format!("cannot read {}: {e}", path.display()),
                &format!("{} を読めません: {e}", path.display()),
            );
            return None;
        }
    };
    let runbook = parse_runbook(&source, &path.display().to_string(), ctx)?;
    Some((source, runbook))
}

/// Parses runbook text read from `name`; prints every diagnostic on failure.
/// `include:` files are read relative to the file that names them.
pub(crate) fn parse_runbook(source: &str, name: &str, ctx: &Context) -> Option<Runbook> {
    let read = tejun_runbook::read_runbook(source, name, &FileIncludes);
    if read.diagnostics.is_empty() {
        return read.runbook;
    }
    let text = read
        .diagnostics
        .render_with_included(source, &read.included, ctx.lang, true);
    anstream::eprint!("{text}");
    None
}

/// The inventory if one is found: `--inventory`, else `tejun.yaml` in the
/// current directory or a parent, else beside the runbook or in a parent of
/// its directory (inventories usually live with their runbooks). `Ok(None)`
/// lets the engine refuse with its explanation (and journal the refusal).
pub(crate) fn load_inventory(ctx: &Context, runbook: &Path) -> Result<Option<Inventory>, Exit> {
    let Some(path) = ctx.inventory_path_for(runbook) else {
        return Ok(None);
    };
    read_inventory(ctx, &path).map(Some)
}

/// Reads and parses the inventory at `path`; an unreadable or invalid one
/// is bad input, with every diagnostic printed.
pub(crate) fn read_inventory(ctx: &Context, path: &Path) -> Result<Inventory, Exit> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        ctx.error(
            &format!("cannot read inventory {}: {e}", path.display()),
            &format!("インベントリ {} を読めません: {e}", path.display()),
        );
        Exit::BadInput
    })?;
    parse_inventory(&source, &path.display().to_string()).map_err(|diagnostics| {
        anstream::eprint!("{}", diagnostics.render(&source, ctx.lang, true));
        Exit::BadInput
    })
}

/// Where run folders live: `runs/` beside the journal.
fn runs_dir(ctx: &Context) -> PathBuf {
    ctx.journal_path()
        .parent()
        .map(|p| p.join("runs"))
        .unwrap_or_else(|| PathBuf::from("runs"))
}

/// Diffs longer than this many lines are left to `tejun show RUN --diff`.
const SHORT_DIFF_LINES: usize = 40;

/// At the end of a run: what it changed in the files it backed up, when
/// that is short enough to read here; otherwise where to see it.
fn print_changed_files(run_id: &str, ctx: &Context) {
    let Ok(Some(journal)) = crate::cmd::runs::open_existing_journal(ctx) else {
        return;
    };
    let Ok(timeline) = tejun_engine::history::run_timeline(&journal, run_id) else {
        return;
    };
    let changed: Vec<_> = crate::backup_diff::backed_up_files(&timeline)
        .into_iter()
        .filter(|f| f.state != crate::backup_diff::FileState::Unchanged)
        .collect();
    if changed.is_empty() {
        return;
    }
    let lines: usize = changed
        .iter()
        .map(|f| f.diff.as_deref().map_or(1, |d| d.lines().count()))
        .sum();
    if lines > SHORT_DIFF_LINES {
        outln!(
            "{}",
            ctx.lang.pick(
                &format!(
                    "{} backed-up file(s) changed ({lines} diff lines): tejun show {run_id} --diff",
                    changed.len()
                ),
                &format!(
                    "バックアップしたファイル {} 件が変更されました (差分 {lines} 行): tejun show {run_id} --diff",
                    changed.len()
                ),
            )
        );
        return;
    }
    for file in &changed {
        outln!("{}  ({})", file.path, file.state.describe(ctx.lang));
        if let Some(diff) = &file.diff {
            anstream::print!("{}", crate::backup_diff::colored(diff));
        }
    }
}
