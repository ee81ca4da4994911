//! `tejun runs`: the runs in the journal, newest first.
//!
//! A view, nothing more: every line is folded from the journal by
//! `tejun_engine::history`. Times are shown in the operator's zone (`TZ`);
//! `--json` prints the same summaries with UTC times for scripts.
//!
//! The run-state colours, durations and read-only journal opening here are
//! shared with `tejun show`; tables and stdout go through `crate::output`.

use anstyle::{AnsiColor, Style};
use tejun_engine::history::{self, RunState, RunSummary};
use tejun_journal::Journal;

use crate::context::{Context, Exit};
use crate::output::outln;
// Re-exported for `tejun bans`, which imported them from here before they
// moved to `crate::output`.
use crate::output::{Cell, Table, print_json};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun runs\n  tejun runs --env production --limit 5\n  TZ=Asia/Tokyo tejun runs\n  tejun runs --limit 0 --json | jq '.[] | select(.state == \"interrupted\") | .id'\n\nStates: running, interrupted (resume it with `tejun resume RUN`), paused, succeeded,\nrolled-back, rollback-failed, failed, aborted, refused."
)]
pub struct Args {
    /// Print the runs as a JSON array (times in UTC) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only runs in this environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Show at most N runs (the most recent); 0 shows all.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let journal = match open_existing_journal(ctx) {
        Ok(Some(journal)) => journal,
        Ok(None) => return print(&args, ctx, Vec::new()),
        Err(exit) => return exit,
    };
    match history::list_runs(&journal) {
        Ok(runs) => print(&args, ctx, runs),
        Err(err) => {
            ctx.error(
                &format!("cannot read runs: {err}"),
                &format!("実行履歴を読めません: {err}"),
            );
            Exit::Failed
        }
    }
}

fn print(args: &Args, ctx: &Context, runs: Vec<RunSummary>) -> Exit {
    let mut runs: Vec<RunSummary> = runs
        .into_iter()
        .rev()
        .filter(|run| args.env.as_ref().is_none_or(|env| &run.env == env))
        .collect();
    if args.limit > 0 {
        runs.truncate(args.limit);
    }
    if args.json {
        return print_json(&runs);
    }
    let lang = ctx.lang;
    if runs.is_empty() {
        outln!(
            "{}",
            lang.pick("No runs yet.", "実行履歴はまだありません。")
        );
        return Exit::Ok;
    }
    let header = [
        lang.pick("RUN", "実行ID"),
        lang.pick("STARTED", "開始"),
        lang.pick("ENV", "環境"),
        lang.pick("RUNBOOK", "手順書"),
        lang.pick("STATE", "状態"),
        lang.pick("STEPS", "ステップ"),
        lang.pick("DURATION", "所要時間"),
        lang.pick("OPERATOR", "作業者"),
        lang.pick("INCIDENT", "インシデント"),
    ];
    let mut table = Table::with_header(header);
    for run in &runs {
        let (en, ja) = run.state.label();
        // Refused before any step: no steps, no duration to speak of.
        let refused = run.state == RunState::Refused;
        table.row(vec![
            Cell::plain(&run.id),
            Cell::plain(ctx.format_time(run.started)),
            Cell::plain(&run.env),
            Cell::plain(&run.runbook),
            Cell::styled(lang.pick(en, ja), state_style(run.state)),
            Cell::plain(if refused {
                "-".to_string()
            } else {
                format!("{}/{}", run.steps_done, run.steps_total)
            }),
            Cell::plain(match run.duration_ms {
                Some(ms) if !refused => format_duration(ms),
                _ => "-".into(),
            }),
            Cell::plain(&run.operator),
            Cell::plain(run.incident.as_deref().unwrap_or("-")),
        ]);
    }
    table.print();
    Exit::Ok
}

/// Opens the journal for reading, without creating it: a read-only command
/// must not leave a database behind where none was. `Ok(None)` when there is
/// no journal yet.
pub(crate) fn open_existing_journal(ctx: &Context) -> Result<Option<Journal>, Exit> {
    let path = ctx.journal_path();
    if !path.exists() {
        return Ok(None);
    }
    match Journal::open(&path) {
        Ok(journal) => Ok(Some(journal)),
        Err(err) => {
            ctx.error(
                &format!("cannot open the journal: {err}"),
                &format!("ジャーナルを開けません: {err}"),
            );
            Err(Exit::BadInput)
        }
    }
}

pub(crate) fn state_style(state: RunState) -> Style {
    let color = match state {
        RunState::Succeeded => AnsiColor::Green,
        RunState::Running => AnsiColor::Cyan,
        RunState::Interrupted | RunState::Paused | RunState::RolledBack => AnsiColor::Yellow,
        RunState::RollbackFailed | RunState::Failed | RunState::Aborted | RunState::Refused => {
            AnsiColor::Red
        }
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub(crate) fn format_duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(12_340), "12.3s");
        assert_eq!(format_duration(245_000), "4m05s");
        assert_eq!(format_duration(7_380_000), "2h03m");
    }
}
